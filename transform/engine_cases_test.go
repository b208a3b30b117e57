package transform

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/state"
)

func wantDoc(t *testing.T, h *harness, id string, want string) {
	t.Helper()
	got := h.index.doc(t, id)
	var w map[string]any
	if want == "" {
		if got != nil {
			t.Fatalf("document %s: want none, got %v", id, got)
		}
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		gj, _ := json.Marshal(got)
		t.Fatalf("document %s:\n got %s\nwant %s", id, gj, want)
	}
}

// seed writes one order with everything it joins.
func seed(h *harness) {
	h.sync("consumers", h.txn("consumers", ins("consumers", capture.Row{"id": int64(7), "name": "Ada", "email": "ada@example.com"})))
	h.sync("restaurants", h.txn("restaurants",
		ins("restaurants", capture.Row{"id": int64(3), "name": "Pho 99"}),
		ins("menu_items", capture.Row{"id": int64(30), "restaurant_id": int64(3), "name": "pho"}),
		ins("menu_items", capture.Row{"id": int64(31), "restaurant_id": int64(3), "name": "banh mi"})))
	h.sync("orders", h.txn("orders",
		ins("orders", capture.Row{"id": int64(1), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": int64(1250)}),
		ins("order_line_items", capture.Row{"id": int64(10), "order_id": int64(1), "menu_item_id": int64(30), "quantity": int64(2)}),
		ins("order_line_items", capture.Row{"id": int64(11), "order_id": int64(1), "menu_item_id": int64(31), "quantity": int64(1)})))
	h.sync("deliveries", h.txn("deliveries", ins("deliveries", capture.Row{"id": int64(100), "order_id": int64(1), "status": "assigned"})))
}

const seededOrder = `{"id":1,"consumer_id":7,"status":"new","total_cents":1250,
	"consumer":{"name":"Ada","contact_email":"ada@example.com"},
	"restaurant":{"name":"Pho 99"},
	"line_items":[{"quantity":2,"menu_item":{"name":"pho"}},{"quantity":1,"menu_item":{"name":"banh mi"}}],
	"delivery":{"status":"assigned"}}`

func TestJoinedDocument(t *testing.T) {
	h := newHarness(t, newMemoryIndex(), t.TempDir())
	seed(h)
	wantDoc(t, h, "1", seededOrder)
}

func TestChangesReachEveryEmbeddingDocument(t *testing.T) {
	cases := []struct {
		name   string
		change func(h *harness)
		want   string
	}{
		{"restaurant renamed", func(h *harness) {
			h.sync("restaurants", h.txn("restaurants", upd("restaurants", capture.Row{"id": int64(3), "name": "Pho 100"})))
		}, `"restaurant":{"name":"Pho 100"}`},
		{"menu item renamed two levels down", func(h *harness) {
			h.sync("restaurants", h.txn("restaurants", upd("menu_items", capture.Row{"id": int64(30), "restaurant_id": int64(3), "name": "pho ga"})))
		}, `"line_items":[{"quantity":2,"menu_item":{"name":"pho ga"}},{"quantity":1,"menu_item":{"name":"banh mi"}}]`},
		{"consumer deleted leaves null", func(h *harness) {
			h.sync("consumers", h.txn("consumers", del("consumers", 7)))
		}, `"consumer":null`},
		{"line item deleted", func(h *harness) {
			h.sync("orders", h.txn("orders", del("order_line_items", 10)))
		}, `"line_items":[{"quantity":1,"menu_item":{"name":"banh mi"}}]`},
		{"delivery status changes", func(h *harness) {
			h.sync("deliveries", h.txn("deliveries", upd("deliveries", capture.Row{"id": int64(100), "order_id": int64(1), "status": "delivered"})))
		}, `"delivery":{"status":"delivered"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, newMemoryIndex(), t.TempDir())
			seed(h)
			c.change(h)
			got, _ := json.Marshal(h.index.doc(t, "1"))
			var want map[string]any
			if err := json.Unmarshal([]byte("{"+c.want+"}"), &want); err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			_ = json.Unmarshal(got, &doc)
			for k, v := range want {
				if !reflect.DeepEqual(doc[k], v) {
					t.Fatalf("field %s: got %v, want %v (document %s)", k, doc[k], v, got)
				}
			}
		})
	}
}

func TestLineItemMovesBetweenOrders(t *testing.T) {
	h := newHarness(t, newMemoryIndex(), t.TempDir())
	seed(h)
	h.sync("orders", h.txn("orders",
		ins("orders", capture.Row{"id": int64(2), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": int64(0)}),
		upd("order_line_items", capture.Row{"id": int64(11), "order_id": int64(2), "menu_item_id": int64(31), "quantity": int64(1)})))
	if got := len(h.index.doc(t, "1")["line_items"].([]any)); got != 1 {
		t.Fatalf("order 1 has %d line items after the move, want 1", got)
	}
	if got := len(h.index.doc(t, "2")["line_items"].([]any)); got != 1 {
		t.Fatalf("order 2 has %d line items after the move, want 1", got)
	}
}

// TestIndexesFollowUpdates checks that an update keeps the row's index
// entries when it changes no join column, and moves them when it does.
func TestIndexesFollowUpdates(t *testing.T) {
	h := newHarness(t, newMemoryIndex(), t.TempDir())
	seed(h)
	restaurant := func() any { return h.index.doc(t, "1")["restaurant"] }
	order := func(restaurantID int64, status string) capture.Change {
		return upd("orders", capture.Row{"id": int64(1), "consumer_id": int64(7), "restaurant_id": restaurantID, "status": status, "total_cents": int64(1250)})
	}
	rename := func(id int64, name string) {
		h.sync("restaurants", h.txn("restaurants", upd("restaurants", capture.Row{"id": id, "name": name})))
	}

	h.sync("orders", h.txn("orders", order(3, "paid")))
	rename(3, "Pho 100")
	if got := restaurant(); !reflect.DeepEqual(got, map[string]any{"name": "Pho 100"}) {
		t.Fatalf("after a status change and a rename: restaurant %v, want Pho 100", got)
	}

	h.sync("restaurants", h.txn("restaurants", ins("restaurants", capture.Row{"id": int64(4), "name": "Banh Mi Bar"})))
	h.sync("orders", h.txn("orders", order(4, "paid")))
	if got := restaurant(); !reflect.DeepEqual(got, map[string]any{"name": "Banh Mi Bar"}) {
		t.Fatalf("after moving the order: restaurant %v, want Banh Mi Bar", got)
	}
	written := h.index.writes
	rename(3, "Pho 101")
	if got := h.index.writes; got != written {
		t.Fatalf("renaming the order's former restaurant wrote %d documents, want 0", got-written)
	}
	rename(4, "Banh Mi Place")
	if got := restaurant(); !reflect.DeepEqual(got, map[string]any{"name": "Banh Mi Place"}) {
		t.Fatalf("after renaming its new restaurant: restaurant %v, want Banh Mi Place", got)
	}
}

func TestRootDeleteRemovesDocument(t *testing.T) {
	h := newHarness(t, newMemoryIndex(), t.TempDir())
	seed(h)
	h.sync("orders", h.txn("orders", del("orders", 1)))
	wantDoc(t, h, "1", "")
}

// A rename embedded in 4,500 documents builds and submits them in pages,
// and every one of them shows it.
func TestFanOut(t *testing.T) {
	const orders = 4500
	h := newHarness(t, newMemoryIndex(), t.TempDir())
	seed(h)
	var changes []capture.Change
	for i := int64(2); i <= orders; i++ {
		changes = append(changes, ins("orders", capture.Row{"id": i, "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": i}))
	}
	h.sync("orders", h.txn("orders", changes...))
	h.sync("restaurants", h.txn("restaurants", upd("restaurants", capture.Row{"id": int64(3), "name": "Pho Palace"})))
	for i := 1; i <= orders; i++ {
		doc := h.index.doc(t, fmt.Sprint(i))
		if name := doc["restaurant"].(map[string]any)["name"]; name != "Pho Palace" {
			t.Fatalf("order %d still shows restaurant %v", i, name)
		}
	}
	h.index.mu.Lock()
	largest := h.index.largest
	h.index.mu.Unlock()
	if largest > pageDocs {
		t.Fatalf("a submission carried %d documents, more than a page of %d", largest, pageDocs)
	}
}

func TestUnchangedToastKeepsValue(t *testing.T) {
	h := newHarness(t, newMemoryIndex(), t.TempDir())
	seed(h)
	h.sync("consumers", h.txn("consumers", upd("consumers", capture.Row{"id": int64(7), "email": "new@example.com"}, "name")))
	if got := h.index.doc(t, "1")["consumer"].(map[string]any)["name"]; got != "Ada" {
		t.Fatalf("unchanged TOAST column became %v, want Ada", got)
	}
}

func TestGroupWritesEachDocumentOnce(t *testing.T) {
	h := newHarness(t, newMemoryIndex(), t.TempDir())
	seed(h)
	before := h.index.writes
	h.sync("orders", h.txn("orders",
		upd("orders", capture.Row{"id": int64(1), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "paid", "total_cents": int64(1250)}),
		upd("order_line_items", capture.Row{"id": int64(10), "order_id": int64(1), "menu_item_id": int64(30), "quantity": int64(3)}),
		upd("orders", capture.Row{"id": int64(1), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "cooking", "total_cents": int64(1250)})))
	if n := h.index.writes - before; n != 1 {
		t.Fatalf("one transaction changing document 1 three times wrote it %d times, want 1", n)
	}
	if got := h.index.doc(t, "1")["status"]; got != "cooking" {
		t.Fatalf("status %v, want cooking", got)
	}
}

// TestPendingDocumentsSurviveRestart: documents derived but not yet
// acknowledged are sent again after a restart, and positions are confirmed
// only once they are durable.
func TestPendingDocumentsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	index := newMemoryIndex()
	index.hold = true
	h := newHarness(t, index, dir)
	seed2 := func() capture.LSN {
		h.txn("consumers", ins("consumers", capture.Row{"id": int64(7), "name": "Ada", "email": "a@x"}))
		return h.txn("orders", ins("orders", capture.Row{"id": int64(1), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": int64(5)}))
	}
	lsn := seed2()
	h.txn("consumers", upd("consumers", capture.Row{"id": int64(7), "name": "Grace", "email": "a@x"}))
	h.stop()
	h.mu.Lock()
	if h.confirmed["orders"] != 0 {
		t.Fatalf("orders confirmed at %s while its documents were never acknowledged", h.confirmed["orders"])
	}
	h.mu.Unlock()

	fresh := newMemoryIndex() // the index lost everything it had not acknowledged
	h2 := newHarness(t, fresh, dir)
	h2.sync("orders", lsn)
	if got := fresh.doc(t, "1")["consumer"].(map[string]any)["name"]; got != "Grace" {
		t.Fatalf("resent document shows consumer %v, want Grace", got)
	}
	cp, err := h2.engine.Checkpoint("orders")
	if err != nil || cp.Applied != lsn {
		t.Fatalf("checkpoint of orders: %+v, %v; want applied %s", cp, err, lsn)
	}
}

func TestRedeliveredTransactionIsSkipped(t *testing.T) {
	h := newHarness(t, newMemoryIndex(), t.TempDir())
	seed(h)
	lsn := h.txn("consumers", upd("consumers", capture.Row{"id": int64(7), "name": "Grace", "email": "g@x"}))
	h.sync("consumers", lsn)
	// The same position again, with different content: a replay must not apply.
	ct := &capture.Transaction{Source: "consumers", CommitLSN: lsn, EndLSN: lsn,
		Changes: []capture.Change{upd("consumers", capture.Row{"id": int64(7), "name": "Replayed", "email": "g@x"})}}
	h.in <- ct
	h.sync("consumers", h.txn("consumers"))
	if got := h.index.doc(t, "1")["consumer"].(map[string]any)["name"]; got != "Grace" {
		t.Fatalf("a redelivered transaction was applied again: consumer is %v", got)
	}
}

// snapshotTxn sends one chunk of a source's snapshot, all at the slot's
// consistent point, as capture does.
func (h *harness) snapshotTxn(source string, at capture.LSN, first, last bool, changes ...capture.Change) {
	h.t.Helper()
	for i := range changes {
		changes[i].Op = capture.Read
	}
	ct := &capture.Transaction{Source: source, CommitLSN: at, EndLSN: at, CommitTime: time.Now(),
		Snapshot: true, Reset: first, SnapshotDone: last, Changes: changes}
	h.in <- ct
}

// snapshotParents copies, complete, the sources an order's document joins
// with: consumer 7, restaurant 3 and no deliveries.
func (h *harness) snapshotParents() {
	h.t.Helper()
	h.snapshotTxn("consumers", 50, true, true, ins("consumers", capture.Row{"id": int64(7), "name": "Ada", "email": "a@x"}))
	h.snapshotTxn("restaurants", 60, true, true, ins("restaurants", capture.Row{"id": int64(3), "name": "Pho 99"}))
	h.snapshotTxn("deliveries", 70, true, true)
}

// TestSnapshotWritesEachDocumentOnce: while a view's sources are being
// copied its documents are only marked; when the last snapshot completes
// each is built and written once, and the snapshot's position is confirmed
// only after they are all acknowledged. A restart in between loses none.
func TestSnapshotWritesEachDocumentOnce(t *testing.T) {
	dir := t.TempDir()
	index := newMemoryIndex()
	h := newHarness(t, index, dir)
	const orders = 2500 // more than one release page
	h.snapshotTxn("consumers", 50, true, false, ins("consumers", capture.Row{"id": int64(7), "name": "Ada", "email": "a@x"}))
	h.snapshotTxn("restaurants", 60, true, true, ins("restaurants", capture.Row{"id": int64(3), "name": "Pho 99"}))
	h.snapshotTxn("deliveries", 70, true, true)
	var rows []capture.Change
	for id := int64(1); id <= orders; id++ {
		rows = append(rows,
			ins("orders", capture.Row{"id": id, "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": id}),
			ins("order_line_items", capture.Row{"id": id * 10, "order_id": id, "menu_item_id": int64(30), "quantity": int64(1)}),
			ins("order_line_items", capture.Row{"id": id*10 + 1, "order_id": id, "menu_item_id": int64(30), "quantity": int64(2)}))
	}
	h.snapshotTxn("orders", 80, true, false, rows...)
	h.snapshotTxn("orders", 80, false, true)
	h.sync("orders", 80)
	if index.writes != 0 {
		t.Fatalf("%d documents written while the consumers snapshot is still running, want 0", index.writes)
	}
	h.mu.Lock()
	if h.confirmed["orders"] != 80 {
		t.Fatalf("orders confirmed at %s, want 80", h.confirmed["orders"])
	}
	h.mu.Unlock()

	// A restart before the last snapshot completes: it starts over at a new
	// consistent point, and the pending documents still wait for it.
	h.stop()
	h = newHarness(t, index, dir)
	h.snapshotTxn("consumers", 90, true, false, ins("consumers", capture.Row{"id": int64(7), "name": "Ada", "email": "a@x"}))
	h.snapshotTxn("consumers", 90, false, true)
	h.sync("consumers", 90)
	if index.writes != orders {
		t.Fatalf("%d documents written for %d orders, want each once", index.writes, orders)
	}
	wantDoc(t, h, fmt.Sprint(orders), fmt.Sprintf(`{"id":%d,"consumer_id":7,"status":"new","total_cents":%d,
		"consumer":{"name":"Ada","contact_email":"a@x"},"restaurant":{"name":"Pho 99"},
		"line_items":[{"quantity":1,"menu_item":null},{"quantity":2,"menu_item":null}],"delivery":null}`, orders, orders))
	if got := h.index.doc(t, "1")["line_items"].([]any); len(got) != 2 {
		t.Fatalf("order 1 has %d line items, want 2", len(got))
	}
}

// TestBacklogUntilSnapshotDocumentsAreDurable: readiness hears of the
// documents a completed snapshot still has to write.
func TestBacklogUntilSnapshotDocumentsAreDurable(t *testing.T) {
	index := newMemoryIndex()
	index.hold = true
	h := newHarness(t, index, t.TempDir())
	for _, source := range []string{"consumers", "restaurants", "deliveries"} {
		h.snapshotTxn(source, 50, true, true)
	}
	h.snapshotTxn("orders", 60, true, false,
		ins("orders", capture.Row{"id": int64(1), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": int64(5)}))
	h.snapshotTxn("orders", 60, false, true)
	deadline := time.Now().Add(time.Minute)
	for !h.engine.Backlog() {
		if time.Now().After(deadline) {
			t.Fatal("no backlog reported while the snapshot's document is not acknowledged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	index.mu.Lock()
	for _, ack := range index.held {
		ack()
	}
	index.hold = false
	index.mu.Unlock()
	h.sync("orders", 60)
	for h.engine.Backlog() {
		if time.Now().After(deadline) {
			t.Fatal("backlog still reported after every document was acknowledged")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRootRowsGoOutWhileTheirTableIsCopied: once every other table of a
// view is copied, each root row arrives with everything it joins, so its
// document is written then, once, before the snapshot ends.
func TestRootRowsGoOutWhileTheirTableIsCopied(t *testing.T) {
	index := newMemoryIndex()
	h := newHarness(t, index, t.TempDir())
	h.snapshotTxn("consumers", 50, true, true)
	h.snapshotTxn("restaurants", 50, true, true)
	h.snapshotTxn("deliveries", 50, true, true)
	const orders = 2500
	var items, roots []capture.Change
	for id := int64(1); id <= orders; id++ {
		items = append(items, ins("order_line_items", capture.Row{"id": id, "order_id": id, "menu_item_id": int64(30), "quantity": int64(1)}))
		roots = append(roots, ins("orders", capture.Row{"id": id, "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": id}))
	}
	h.snapshotTxn("orders", 80, true, false, items...)
	if index.writes != 0 {
		t.Fatalf("%d documents written before any order was copied", index.writes)
	}
	itemsDone := &capture.Transaction{Source: "orders", CommitLSN: 80, EndLSN: 80, CommitTime: time.Now(), Snapshot: true,
		Copied: []capture.Table{tbl("order_line_items")}, Changes: roots}
	for i := range itemsDone.Changes {
		itemsDone.Changes[i].Op = capture.Read
	}
	h.in <- itemsDone
	eventually := time.Now().Add(time.Minute)
	for {
		index.mu.Lock()
		n := index.writes
		index.mu.Unlock()
		if n == orders {
			break
		}
		if time.Now().After(eventually) {
			t.Fatalf("%d of %d documents written while the orders table was copied", n, orders)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.mu.Lock()
	confirmed := h.confirmed["orders"]
	h.mu.Unlock()
	if confirmed >= 80 {
		t.Fatalf("orders confirmed at %s before its snapshot ended", confirmed)
	}
	h.snapshotTxn("orders", 80, false, true)
	h.sync("orders", 80)
	if index.writes != orders {
		t.Fatalf("%d documents written for %d orders, want each once", index.writes, orders)
	}
	if got := h.index.doc(t, "2500")["line_items"].([]any); len(got) != 1 {
		t.Fatalf("order 2500 has %d line items, want 1", len(got))
	}
}

// TestDocumentMarkedAgainStaysPending checks that the acknowledgement of
// a document's earlier version does not clear the pending mark a later
// group set: the later version must be sent again after a crash.
func TestDocumentMarkedAgainStaysPending(t *testing.T) {
	dir := t.TempDir()
	index := newMemoryIndex()
	h := newHarness(t, index, dir)
	seed(h)
	held := func() int {
		index.mu.Lock()
		defer index.mu.Unlock()
		return len(index.held)
	}
	waitHeld := func(n int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for held() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d acknowledgements held, want %d", held(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	status := func(s string) capture.Change {
		return upd("orders", capture.Row{"id": int64(1), "consumer_id": int64(7), "restaurant_id": int64(3), "status": s, "total_cents": int64(1250)})
	}
	index.mu.Lock()
	index.hold = true
	index.mu.Unlock()
	first := h.txn("orders", status("paid"))
	waitHeld(1) // the second change goes in a group of its own
	second := h.txn("orders", status("delivered"))
	waitHeld(2)

	index.mu.Lock()
	ack := index.held[0]
	index.mu.Unlock()
	ack()
	h.sync("orders", first)
	refs, _, err := h.store.PendingPage(nil, 10, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(refs, state.DocRef{View: "order_history", ID: "[1]"}) {
		t.Fatalf("pending documents after the first acknowledgement: %v, want order 1 still pending", refs)
	}
	h.stop()

	fresh := newMemoryIndex()
	h2 := newHarness(t, fresh, dir)
	h2.sync("orders", second)
	if got := fresh.doc(t, "1")["status"]; got != "delivered" {
		t.Fatalf("order 1 sent again after the restart with status %v, want delivered", got)
	}
}

// TestCopiedDocumentsCloseTheSnapshot: documents built while their root
// table is copied carry no pending marks, so the snapshot's closing
// transaction must wait for their acknowledgement: until it is committed,
// a crash starts the snapshot over and sends them again.
func TestCopiedDocumentsCloseTheSnapshot(t *testing.T) {
	index := newMemoryIndex()
	h := newHarness(t, index, t.TempDir())
	for _, source := range []string{"consumers", "restaurants", "deliveries"} {
		h.snapshotTxn(source, 50, true, true)
	}
	h.snapshotTxn("orders", 80, true, false, ins("order_line_items", capture.Row{"id": int64(10), "order_id": int64(1), "menu_item_id": int64(30), "quantity": int64(1)}))
	// Applied once a later transaction is confirmed: the root rows below
	// then go in a group of their own, not with the snapshot's start.
	h.sync("consumers", h.txn("consumers"))
	index.mu.Lock()
	index.hold = true
	index.mu.Unlock()
	// The first chunk of root rows ends the view's wait for its other
	// tables, so its documents go out with those the wait left pending;
	// the second chunk's are sent as they are built.
	const orders = 300
	for _, chunk := range [][2]int64{{1, orders / 2}, {orders/2 + 1, orders}} {
		var roots []capture.Change
		for id := chunk[0]; id <= chunk[1]; id++ {
			roots = append(roots, capture.Change{Op: capture.Read, Table: tbl("orders"), Key: []string{"id"},
				New: capture.Row{"id": id, "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": id}})
		}
		h.in <- &capture.Transaction{Source: "orders", CommitLSN: 80, EndLSN: 80, CommitTime: time.Now(), Snapshot: true,
			Copied: []capture.Table{tbl("order_line_items")}, Changes: roots}
		sent := time.Now().Add(time.Minute)
		for {
			index.mu.Lock()
			n := index.writes
			index.mu.Unlock()
			if n == int(chunk[1]) {
				break // sent before the next chunk arrives: in a group of its own
			}
			if time.Now().After(sent) {
				t.Fatalf("%d of %d documents sent while the orders table was copied", n, chunk[1])
			}
			time.Sleep(time.Millisecond)
		}
	}
	h.snapshotTxn("orders", 80, false, true)

	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		cp, err := h.engine.Checkpoint("orders")
		if err != nil {
			t.Fatal(err)
		}
		if cp.SnapshotDone {
			t.Fatal("snapshot of orders closed before its documents were acknowledged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	refs, _, err := h.store.PendingPage(nil, orders, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs {
		if id, _ := strconv.Atoi(strings.Trim(ref.ID, "[]")); id > orders/2 {
			t.Fatalf("pending mark for %v, sent while its root table was copied", ref)
		}
	}

	index.mu.Lock()
	for _, ack := range index.held {
		ack()
	}
	index.held, index.hold = nil, false
	index.mu.Unlock()
	h.sync("orders", 80)
	cp, err := h.engine.Checkpoint("orders")
	if err != nil || !cp.SnapshotDone {
		t.Fatalf("checkpoint of orders after the acknowledgements: %+v, %v; want the snapshot done", cp, err)
	}
	if index.writes != orders {
		t.Fatalf("%d documents written for %d orders, want each once", index.writes, orders)
	}
	if got := h.index.doc(t, "1")["line_items"].([]any); len(got) != 1 {
		t.Fatalf("order 1 has %d line items, want 1", len(got))
	}
}
