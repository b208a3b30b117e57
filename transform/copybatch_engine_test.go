package transform

import (
	"fmt"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
)

// TestInterruptedSnapshotForgetsIngestedRows: the groups of a snapshot
// made of copied rows alone are ingested as sorted tables, outside the
// store's log. A stop before the snapshot's end must leave nothing of them
// once the snapshot has run again: the new snapshot's first transaction
// removes every row of the source, ingested ones included, and the
// documents of rows the new snapshot no longer has are never written.
func TestInterruptedSnapshotForgetsIngestedRows(t *testing.T) {
	const lastOrder = 1201
	dir := t.TempDir()
	index := newMemoryIndex()
	h := newHarness(t, index, dir)
	h.snapshotParents()
	order := func(id int64) []capture.Change {
		return []capture.Change{
			ins("orders", capture.Row{"id": id, "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": id}),
			ins("order_line_items", capture.Row{"id": id * 10, "order_id": id, "menu_item_id": int64(30), "quantity": int64(1)}),
		}
	}
	h.snapshotTxn("orders", 80, true, false, order(1)...)
	// Groups of copied rows alone, each large enough to be ingested
	// (copyBatchMinRows).
	for first := int64(2); first <= lastOrder; first += 600 {
		var changes []capture.Change
		for id := first; id < first+600 && id <= lastOrder; id++ {
			changes = append(changes, order(id)...)
		}
		h.snapshotTxn("orders", 80, false, false, changes...)
		time.Sleep(time.Millisecond) // mostly one group each
	}
	// Once a later transaction is confirmed, every snapshot chunk before
	// it has been applied.
	h.sync("consumers", h.txn("consumers", upd("consumers", capture.Row{"id": int64(7), "name": "Ada", "email": "a@x"})))
	if index.writes != 0 {
		t.Fatalf("%d documents written while the orders snapshot runs, want 0", index.writes)
	}
	h.stop()

	h = newHarness(t, index, dir)
	h.snapshotTxn("orders", 200, true, false, order(1)...)
	h.snapshotTxn("orders", 200, false, true)
	h.sync("orders", 200)
	wantDoc(t, h, "1", `{"id":1,"consumer_id":7,"status":"new","total_cents":1,
		"consumer":{"name":"Ada","contact_email":"a@x"},"restaurant":{"name":"Pho 99"},
		"line_items":[{"quantity":1,"menu_item":null}],"delivery":null}`)
	for id := 2; id <= lastOrder; id++ {
		wantDoc(t, h, fmt.Sprint(id), "")
	}
	h.stop()
}
