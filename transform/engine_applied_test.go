package transform

import (
	"testing"

	"github.com/projector-dev/projector/capture"
)

// TestAppliedAfterCommit checks that Options.Applied, which releases a
// transaction's share of the feed's memory budget, is called only once the
// transaction is committed to the state, not when the engine takes it:
// the rows of the group being applied must stay charged.
func TestAppliedAfterCommit(t *testing.T) {
	type call struct {
		end, committed capture.LSN
	}
	calls := make(chan call, 16)
	var h *harness // set before the engine takes its first transaction
	applied := func(txn *capture.Transaction) {
		cp, err := h.store.Checkpoint(txn.Source)
		if err != nil {
			t.Errorf("read checkpoint: %v", err)
		}
		calls <- call{end: txn.EndLSN, committed: cp.Applied}
	}
	h = newHarnessWith(t, newMemoryIndex(), t.TempDir(), Options{Applied: applied})
	for i := range 3 {
		h.txn("orders", ins("orders", capture.Row{"id": int64(i + 1), "consumer_id": int64(1), "status": "new"}))
	}
	for range 3 {
		c := <-calls
		if c.committed < c.end {
			t.Errorf("transaction at %s released while the state had applied only up to %s", c.end, c.committed)
		}
	}
}
