package transform

import (
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
)

// TestPositionsSettleInOrderOfApplication: acknowledgements that come
// back out of order, and a group without documents acknowledged at once,
// confirm nothing until every group applied before them is durable.
func TestPositionsSettleInOrderOfApplication(t *testing.T) {
	index := newMemoryIndex()
	index.hold = true
	h := newHarness(t, index, t.TempDir())
	order := func(id int64) capture.Change {
		return ins("orders", capture.Row{"id": id, "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": int64(5)})
	}
	h.txn("orders", order(1))
	waitFor(t, "the first order's document", func() bool { return heldAcks(index) == 1 })
	lsnB := h.txn("orders", order(2))
	waitFor(t, "the second order's document", func() bool { return heldAcks(index) == 2 })
	// A restaurant no order refers to: applied, no document to write.
	lsnC := h.txn("restaurants", ins("restaurants", capture.Row{"id": int64(99), "name": "Nowhere"}))
	waitFor(t, "the restaurant applied", func() bool {
		cp, err := h.engine.Checkpoint("restaurants")
		return err == nil && cp.Applied == lsnC
	})
	noneConfirmed := func(when string) {
		t.Helper()
		time.Sleep(100 * time.Millisecond) // time for a wrong confirmation to arrive
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.confirmed) != 0 {
			t.Fatalf("%s: confirmed %v, want nothing", when, h.confirmed)
		}
	}
	noneConfirmed("before any document is durable")

	index.mu.Lock()
	held := index.held
	index.held, index.hold = nil, false
	index.mu.Unlock()
	held[1]() // the second order's document is durable before the first's
	noneConfirmed("with the first order's document not durable")
	held[0]()
	h.sync("orders", lsnB)
	h.sync("restaurants", lsnC)
}

func heldAcks(m *memoryIndex) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.held)
}

// waitFor waits until ok holds. Like harness.sync, its bound only keeps a
// lost event from hanging the run: the package's parallel tests under the
// race detector on a loaded machine take seconds for what a quiet one does
// in milliseconds, so the waits of these tests are bounded by a minute.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestGroupOfSeveralPagesSettlesOnItsLastDurablePage: a group whose
// documents fill more than one submission is durable only once every page
// is, whichever page the writer acknowledges first.
func TestGroupOfSeveralPagesSettlesOnItsLastDurablePage(t *testing.T) {
	index := newMemoryIndex()
	index.hold = true
	h := newHarness(t, index, t.TempDir())
	changes := make([]capture.Change, pageDocs+1)
	for i := range changes {
		changes[i] = ins("orders", capture.Row{"id": int64(i + 1), "consumer_id": int64(7), "restaurant_id": int64(3),
			"status": "new", "total_cents": int64(5)})
	}
	lsn := h.txn("orders", changes...)
	waitFor(t, "both pages submitted", func() bool { return heldAcks(index) == 2 })

	index.mu.Lock()
	held := index.held
	index.held, index.hold = nil, false
	index.mu.Unlock()
	held[1]()                          // the last page is durable first
	time.Sleep(100 * time.Millisecond) // time for a wrong confirmation to arrive
	h.mu.Lock()
	early := len(h.confirmed)
	h.mu.Unlock()
	if early != 0 {
		t.Fatalf("confirmed %v with the group's first page not durable, want nothing", h.confirmed)
	}
	held[0]()
	h.sync("orders", lsn)
}
