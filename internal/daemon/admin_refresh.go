package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/projector-dev/projector/internal/admin"
)

// bulkRefreshWindow is how long a wait's refresh waits for a bulk request
// of the view's index to carry it before it refreshes the index itself.
// The lanes are hurried, so what they hold goes out at once; the window
// lets the next group's documents, applied at once too, come along on a
// steady stream, while a wait on a quiet stream pays little more than its
// own refresh.
const bulkRefreshWindow = 25 * time.Millisecond

// shardCounts remembers the shard count of each index a run's waits read.
type shardCounts struct {
	mu sync.Mutex
	n  map[string]int
}

// RefreshWithWrites makes the next bulk request that writes view's index
// carry refresh=true (see admin.WriteRefresher), when admin.bulk_refresh
// is on. Only for an index of
// one shard: a bulk request refreshes just the shards it wrote, so on an
// index of several the documents acknowledged before it may sit on a
// shard it did not touch.
func (a *adminAPI) RefreshWithWrites(ctx context.Context, view string) (admin.Mark, bool, error) {
	r := a.run.Load()
	if cfg := a.conf.Load(); cfg == nil || !cfg.Admin.BulkRefresh {
		return admin.Mark{}, false, nil
	}
	if r == nil || r.writer == nil || r.p.indices[view] == nil || r.p.isRebuilding(view) {
		return admin.Mark{}, false, nil
	}
	target := r.p.indices[view].Target
	if n, err := r.shards.get(ctx, r, target); err != nil || n != 1 {
		if err != nil {
			a.log.Debug("read the shard count of a view's index for a waiting read; refreshing it instead",
				"view", view, "index", target, "error", err)
		}
		return admin.Mark{}, false, nil
	}
	var m admin.Mark
	// Cut the group being collected now: its documents may be the next
	// bulk request's.
	r.engine.Hurry()
	ok, err := r.writer.RefreshWithNext(ctx, target, bulkRefreshWindow, func() {
		// Taken on the lane just before the request is sent.
		m = admin.Mark{Run: r.id, Settled: r.engine.AcknowledgedGroups(), Index: target}
	})
	if err != nil || !ok {
		return admin.Mark{}, false, err
	}
	return m, true, nil
}

// get returns index's shard count, asking the engine the first time.
func (s *shardCounts) get(ctx context.Context, r *adminRun, index string) (int, error) {
	s.mu.Lock()
	n, ok := s.n[index]
	s.mu.Unlock()
	if ok {
		return n, nil
	}
	n, err := r.p.client.Shards(ctx, index)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[index] = n
	return n, nil
}
