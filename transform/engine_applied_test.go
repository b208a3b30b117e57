package transform

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/state"
)

// TestAppliedAfterCommit checks that Options.Applied, which releases a
// transaction's share of the feed's memory budget, is called only once the
// transaction is committed to the state, not when the engine takes it:
// the rows of the group being applied must stay charged.
func TestAppliedAfterCommit(t *testing.T) {
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	type call struct {
		end, committed capture.LSN
	}
	calls := make(chan call, 16)
	applied := func(txn *capture.Transaction) {
		cp, err := store.Checkpoint(txn.Source)
		if err != nil {
			t.Errorf("read checkpoint: %v", err)
		}
		calls <- call{end: txn.EndLSN, committed: cp.Applied}
	}
	engine, err := NewEngine(store, []*View{orderHistory()}, newMemoryIndex(), func(string, capture.LSN) {},
		Options{Applied: applied}, NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan *capture.Transaction, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx, in) }()
	defer func() {
		cancel()
		<-done
	}()
	for i, lsn := range []capture.LSN{110, 120, 130} {
		in <- &capture.Transaction{Source: "orders", XID: uint32(lsn), CommitLSN: lsn, EndLSN: lsn, CommitTime: time.Now(),
			Changes: []capture.Change{ins("orders", capture.Row{"id": int64(i + 1), "consumer_id": int64(1), "status": "new"})}}
	}
	for range 3 {
		c := <-calls
		if c.committed < c.end {
			t.Errorf("transaction at %s released while the state had applied only up to %s", c.end, c.committed)
		}
	}
}
