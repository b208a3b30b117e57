package transform

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/capture"
)

// TestAppliedSnapshotRowsAreNotKept: once the engine has applied a
// snapshot transaction, capture decodes the next chunk into the same row
// maps (capture.Transaction.Release). Nothing the engine keeps may
// therefore refer to a copied row's map: here every map is overwritten
// with garbage as soon as its transaction is applied, and the documents
// built later from the state, at the snapshot's end and again after a
// streamed change, must still hold the copied values. Under the race
// detector, a late read of an overwritten map fails the test too.
func TestAppliedSnapshotRowsAreNotKept(t *testing.T) {
	index := newMemoryIndex()
	h := newHarness(t, index, t.TempDir())
	h.snapshotParents()
	order := func(id int64) []capture.Change {
		return []capture.Change{
			ins("orders", capture.Row{"id": id, "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": id}),
			ins("order_line_items", capture.Row{"id": id * 10, "order_id": id, "menu_item_id": int64(30), "quantity": int64(2)}),
		}
	}
	chunk := func(from, to int64) []capture.Change {
		var changes []capture.Change
		for id := from; id <= to; id++ {
			changes = append(changes, order(id)...)
		}
		return changes
	}
	// What capture would decode into the maps next.
	garble := func(changes []capture.Change) {
		for _, ch := range changes {
			for col := range ch.New {
				ch.New[col] = "garbage"
			}
			ch.New["extra"] = int64(-1)
		}
	}

	// Chunks large enough for a copy batch (copyBatchMinRows) and one
	// small one, each overwritten once it is applied: a transaction of
	// another source confirmed after them says they are.
	first := chunk(1, 300)
	second := chunk(301, 900)
	last := chunk(901, 905)
	h.snapshotTxn("orders", 80, true, false, first...)
	h.sync("consumers", h.txn("consumers", upd("consumers", capture.Row{"id": int64(7), "name": "Ada", "email": "a@x"})))
	garble(first)
	h.snapshotTxn("orders", 80, false, false, second...)
	h.sync("consumers", h.txn("consumers", upd("consumers", capture.Row{"id": int64(7), "name": "Ada", "email": "a@x"})))
	garble(second)
	h.snapshotTxn("orders", 80, false, true, last...)
	h.sync("orders", 80)
	garble(last)

	want := func(id int64, name string) string {
		return fmt.Sprintf(`{"id":%d,"consumer_id":7,"status":"new","total_cents":%d,
			"consumer":{"name":%q,"contact_email":"a@x"},"restaurant":{"name":"Pho 99"},
			"line_items":[{"quantity":2,"menu_item":null}],"delivery":null}`, id, id, name)
	}
	ids := []int64{1, 150, 300, 301, 777, 900, 901, 905}
	for _, id := range ids {
		wantDoc(t, h, fmt.Sprint(id), want(id, "Ada"))
	}
	// Built again from the state the copied rows were written to.
	h.sync("consumers", h.txn("consumers", upd("consumers", capture.Row{"id": int64(7), "name": "Ada L.", "email": "a@x"})))
	for _, id := range ids {
		wantDoc(t, h, fmt.Sprint(id), want(id, "Ada L."))
	}
}

// TestAppliedSnapshotEventsAreNotKept is TestAppliedSnapshotRowsAreNotKept
// for an event table's copied rows, which are staged until the table is
// copied and folded then: the staged events must not be the maps capture
// decodes the next chunks into.
func TestAppliedSnapshotEventsAreNotKept(t *testing.T) {
	h, _ := newFoldHarness(t, t.TempDir(), false)
	row := func(id int64, typ, payload string) capture.Change {
		return capture.Change{Op: capture.Read, Table: tbl("outbox"), Key: []string{"id"}, New: capture.Row{
			"id": id, "aggregatetype": "Order", "aggregateid": "5", "type": typ, "payload": json.RawMessage(payload)}}
	}
	garble := func(changes []capture.Change) {
		for _, ch := range changes {
			for col := range ch.New {
				ch.New[col] = "garbage"
			}
		}
	}
	lsn := capture.LSN(50)
	first := []capture.Change{row(12, "ItemRemoved", `{"sku": "a"}`), row(9, "ItemAdded", `{"sku": "a"}`), row(2, "OrderCreated", `{"consumerId": 1}`)}
	h.in <- &capture.Transaction{Source: "orders", CommitLSN: lsn, EndLSN: lsn, Snapshot: true, Reset: true, Changes: first}
	// Confirmed after the chunk: the chunk is applied.
	h.sync("consumers", h.txn("consumers", ins("consumers", capture.Row{"id": int64(1), "name": "Ada"})))
	garble(first)
	last := []capture.Change{row(10, "ItemAdded", `{"sku": "b"}`), row(30, "OrderApproved", `{}`)}
	h.in <- &capture.Transaction{Source: "orders", CommitLSN: lsn, EndLSN: lsn, Snapshot: true, SnapshotDone: true, Changes: last,
		Copied: []capture.Table{tbl("outbox")}}
	h.sync("orders", lsn)
	garble(last)
	want := map[string]any{"id": "5", "consumer_id": 1.0, "state": "APPROVED", "items": []any{map[string]any{"sku": "b"}},
		"consumer": map[string]any{"name": "Ada"}}
	if diff := cmp.Diff(want, orderDoc(t, h, "5")); diff != "" {
		t.Errorf("order 5 (-want +got):\n%s", diff)
	}
	// Built again from the state.
	h.sync("consumers", h.txn("consumers", upd("consumers", capture.Row{"id": int64(1), "name": "Ada L."})))
	want["consumer"] = map[string]any{"name": "Ada L."}
	if diff := cmp.Diff(want, orderDoc(t, h, "5")); diff != "" {
		t.Errorf("order 5 after its consumer changed (-want +got):\n%s", diff)
	}
}
