package transform

import (
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
)

// page sends one page of a transaction at lsn to source; more says pages
// follow.
func (h *harness) page(source string, lsn capture.LSN, more bool, changes ...capture.Change) {
	h.t.Helper()
	h.in <- &capture.Transaction{Source: source, XID: uint32(lsn), CommitLSN: lsn, EndLSN: lsn,
		CommitTime: time.Now(), More: more, Changes: changes}
}

// TestTransactionInPagesCompletesOnItsLastPage: the pages of a transaction
// too large to hold are applied as they come, but neither the checkpoint
// nor the confirmed position moves before its last page; a crash in
// between applies the whole transaction again from its first page, and
// the documents end as the transaction left them.
func TestTransactionInPagesCompletesOnItsLastPage(t *testing.T) {
	dir := t.TempDir()
	index := newMemoryIndex()
	h := newHarness(t, index, dir)
	seed(h)
	before, err := h.engine.Checkpoint("orders")
	if err != nil {
		t.Fatal(err)
	}
	order := func(id int64, status string) capture.Change {
		return upd("orders", capture.Row{"id": id, "consumer_id": int64(7), "restaurant_id": int64(3), "status": status, "total_cents": int64(5)})
	}
	const at capture.LSN = 5000
	h.page("orders", at, true, order(1, "paid"), order(2, "new"))
	waitFor(t, "the first page's documents", func() bool { return index.doc(t, "2") != nil })
	// The second page has the first one's position: it must not be taken
	// for a transaction applied already.
	h.page("orders", at, true, order(2, "paid"))
	waitFor(t, "the second page's documents", func() bool { return index.doc(t, "2")["status"] == "paid" })
	time.Sleep(100 * time.Millisecond) // time for a wrong confirmation to arrive
	h.mu.Lock()
	confirmed := h.confirmed["orders"]
	h.mu.Unlock()
	if confirmed >= at {
		t.Fatalf("confirmed %s before the transaction's last page, want below %s", confirmed, at)
	}
	if cp, err := h.engine.Checkpoint("orders"); err != nil || cp.Applied != before.Applied {
		t.Fatalf("checkpoint %+v (%v) before the transaction's last page, want it still at %s", cp, err, before.Applied)
	}
	h.stop()

	// The server sends the unconfirmed transaction again, whole.
	fresh := newMemoryIndex()
	h = newHarness(t, fresh, dir)
	h.page("orders", at, true, order(1, "paid"), order(2, "new"))
	h.page("orders", at, true, order(2, "paid"))
	h.page("orders", at, false, order(1, "delivered"), order(3, "new"))
	h.sync("orders", at)
	if cp, err := h.engine.Checkpoint("orders"); err != nil || cp.Applied != at {
		t.Fatalf("checkpoint %+v (%v) after the last page, want %s", cp, err, at)
	}
	for id, want := range map[string]string{"1": "delivered", "2": "paid", "3": "new"} {
		if got := fresh.doc(t, id)["status"]; got != want {
			t.Errorf("order %s has status %v, want %s", id, got, want)
		}
	}
	// Sent again after the last page, a page is recognised as applied.
	h.page("orders", at, true, order(1, "new"))
	h.sync("orders", at)
	time.Sleep(100 * time.Millisecond)
	if got := fresh.doc(t, "1")["status"]; got != "delivered" {
		t.Errorf("order 1 has status %v after its transaction was sent again, want delivered", got)
	}
}
