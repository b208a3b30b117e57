package admin

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// markingFake is fakeDaemon with Marks, as projector's daemon gives them:
// the index has acknowledged every group up to the durable position.
type markingFake struct{ *fakeDaemon }

func (m markingFake) Mark(string) Mark {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Mark{Run: 1, Settled: uint64(m.durable), Index: "orders_v_v1"}
}

// bulkFake also offers refreshes from bulk requests: each call of
// RefreshWithWrites answers with the next of bulks, and, past them, as if
// no bulk request wrote the index soon.
type bulkFake struct {
	markingFake
	mu    sync.Mutex
	bulks []bulkAnswer
	calls int
}

// bulkAnswer is one bulk request's refresh: the groups acknowledged when
// it was sent, and whether the engine reported the refresh.
type bulkAnswer struct {
	settled uint64
	ok      bool
}

func (b *bulkFake) RefreshWithWrites(ctx context.Context, view string) (Mark, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if len(b.bulks) == 0 {
		return Mark{}, false, nil
	}
	a := b.bulks[0]
	b.bulks = b.bulks[1:]
	return Mark{Run: 1, Settled: a.settled, Index: "orders_v_v1"}, a.ok, nil
}

func (b *bulkFake) refreshCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fakeDaemon.mu.Lock()
	defer b.fakeDaemon.mu.Unlock()
	return len(b.refreshes)
}

// TestWaitAnsweredByBulkRefresh: a wait whose position the index
// acknowledged is answered by the refresh of a bulk request sent after
// that, with no refresh request of its own; a later wait that refresh
// covers takes none at all.
func TestWaitAnsweredByBulkRefresh(t *testing.T) {
	f := &bulkFake{markingFake: markingFake{newFake()}, bulks: []bulkAnswer{{settled: 0x100, ok: true}}}
	f.advance(0x100)
	url, _, reg := newTestServerWithMetrics(t, f)
	for i := range 2 {
		status, body := call(t, "GET", url+"/v1/wait?view=orders_v&source=orders&lsn=0/100&timeout=5s", waitToken, "")
		if status != http.StatusOK {
			t.Fatalf("wait %d: %d %s", i, status, body)
		}
	}
	if n := f.refreshCount(); n != 0 {
		t.Errorf("%d refresh requests, want none: the bulk request's refresh showed the position", n)
	}
	if f.calls != 1 {
		t.Errorf("%d bulk refreshes asked for, want 1: the second wait is covered by the first's", f.calls)
	}
	const want = `
# HELP projector_admin_bulk_refreshes_total Refreshes waits got from a bulk request of the view's index sent with refresh=true, instead of a refresh request of their own.
# TYPE projector_admin_bulk_refreshes_total counter
projector_admin_bulk_refreshes_total{view="orders_v"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "projector_admin_bulk_refreshes_total"); err != nil {
		t.Error(err)
	}
}

// TestWaitNotAnsweredByEarlierBulk: a bulk request sent before the wait's
// position was acknowledged (while an earlier group was still in flight,
// say) carries a refresh that may have run before that group's documents
// were indexed; the wait must not take it, and refreshes the index
// itself. Neither does a bulk request whose answer did not report the
// refresh, nor none sent at all.
func TestWaitNotAnsweredByEarlierBulk(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bulks []bulkAnswer
	}{
		{"sent before the position was acknowledged", []bulkAnswer{{settled: 0xff, ok: true}}},
		{"no refresh reported", []bulkAnswer{{settled: 0x100, ok: false}}},
		{"no bulk request", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &bulkFake{markingFake: markingFake{newFake()}, bulks: tc.bulks}
			f.advance(0x100)
			url, _, _ := newTestServerWithMetrics(t, f)
			status, body := call(t, "GET", url+"/v1/wait?view=orders_v&source=orders&lsn=0/100&timeout=5s", waitToken, "")
			if status != http.StatusOK {
				t.Fatalf("wait: %d %s", status, body)
			}
			if n := f.refreshCount(); n != 1 {
				t.Errorf("%d refresh requests, want 1: the bulk request's refresh did not show the position", n)
			}
		})
	}
}
