package transform

import (
	"io"
	"log/slog"
	"testing"

	"github.com/projector-dev/projector/config"
)

// TestStreamedEventCopiedAgainFoldsOnce: a streamed event is logged
// without indexing its id, and the outbox still holds it when the reducer
// changes: the new snapshot's refold indexes the logged ids, so the copy of
// the event folds it once, not twice.
func TestStreamedEventCopiedAgainFoldsOnce(t *testing.T) {
	dir := t.TempDir()
	h, _ := newFoldHarnessOf(t, dir, orderEntity(false), slog.New(slog.NewTextHandler(io.Discard, nil)))
	h.snapshotOf(100)
	h.lsn = 100
	created, added := outbox(1, "1", "OrderCreated", `{"consumerId": 7}`), outbox(2, "1", "ItemAdded", `{"sku": "a", "qty": 1}`)
	h.sync("orders", h.txn("orders", created, added)) // the housekeeping has not deleted them
	lsn := h.lsn
	h.stop()

	h, _ = newFoldHarnessOf(t, dir, changedOrderEntity(false, config.KeepAll), slog.New(slog.NewTextHandler(io.Discard, nil)))
	h.snapshotOf(lsn+1000, created, added)
	if got := orderDoc(t, h, "1")["added"]; got != 1.0 {
		t.Errorf("order 1 counts %v items added, want 1: the copied events folded again after the refold", got)
	}
}
