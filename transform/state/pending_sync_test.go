package state

import (
	"log/slog"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// TestCommitSyncedSyncsAnEmptyBatch: the engine syncs the state through
// the batch of pending marks a group clears, also when that batch is empty
// (a group that wrote no document still confirms its positions). Pebble
// commits an empty batch without writing its log, so CommitSynced must
// give it something to sync, or positions would be confirmed upstream
// while the groups before them are not durable.
func TestCommitSyncedSyncsAnEmptyBatch(t *testing.T) {
	s, err := Open(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() //nolint:errcheck // a test store

	for _, marks := range []int{0, 1} {
		before := walSyncs(t, s)
		m := s.NewPendingMarks()
		for i := range marks {
			if err := m.Clear(DocRef{View: "v", ID: string(rune('a' + i))}); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.CommitSynced(); err != nil {
			t.Fatal(err)
		}
		// pebble counts a sync once its waiters are released, so the
		// count may lag CommitSynced's return; without a sync it never
		// moves.
		after := walSyncs(t, s)
		for deadline := time.Now().Add(10 * time.Second); after <= before && time.Now().Before(deadline); after = walSyncs(t, s) {
			time.Sleep(time.Millisecond)
		}
		if after <= before {
			t.Errorf("%d marks: the log was synced %d times before CommitSynced and %d after", marks, before, after)
		}
	}
}

// walSyncs is how many times the store has synced its log.
func walSyncs(t *testing.T, s *Store) uint64 {
	t.Helper()
	var m dto.Metric
	if err := s.db.Metrics().LogWriter.FsyncLatency.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}
