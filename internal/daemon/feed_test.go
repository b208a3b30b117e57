package daemon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/budget"
)

// txnOf is a transaction weighing bytes; capture never weighs one at 0.
func txnOf(bytes int) *capture.Transaction {
	return &capture.Transaction{Bytes: int64(bytes)}
}

// sendWithin reports whether send returns within wait; a send still
// blocked then is cancelled.
func sendWithin(t *testing.T, f *feed, txn *capture.Transaction, wait time.Duration) bool {
	t.Helper()
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- f.send(ctx, txn) }()
	select {
	case err := <-done:
		cancel()
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		return true
	case <-time.After(wait):
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("blocked send ended with %v, want context.Canceled", err)
		}
		return false
	}
}

// fits waits generously for a send that must go through; blocks gives a
// send that must wait a short while to show it does.
func fits(t *testing.T, f *feed, txn *capture.Transaction) bool {
	t.Helper()
	return sendWithin(t, f, txn, 10*time.Second)
}

func blocks(t *testing.T, f *feed, txn *capture.Transaction) bool {
	t.Helper()
	return !sendWithin(t, f, txn, 100*time.Millisecond)
}

func TestFeedIsBoundedByBytes(t *testing.T) {
	// Each step first lets the engine take some transactions, then sends
	// one of the given weight into a feed of 10 bytes.
	steps := []struct {
		take, bytes int
		fits        bool
		what        string
	}{
		{0, 4, true, "4 bytes into an empty feed"},
		{0, 4, true, "8 of 10 bytes"},
		{0, 4, false, "12 bytes"},
		{0, 2, true, "10 of 10 bytes"},
		{1, 3, true, "room made by a transaction taken"},
		{3, 50, true, "a transaction larger than the feed, alone"},
		{0, 1, false, "the smallest transaction beside one filling the feed"},
		{1, 1, true, "the smallest transaction into an empty feed"},
	}
	f := newFeed(100, budget.New(10))
	for i, st := range steps {
		for range st.take {
			f.applied(<-f.out())
		}
		if f.room.Held() > f.room.Size() {
			t.Fatalf("step %d: the feed holds %d of %d bytes", i, f.room.Held(), f.room.Size())
		}
		if st.fits && !fits(t, f, txnOf(st.bytes)) {
			t.Fatalf("step %d: %s: blocked, want it to fit", i, st.what)
		}
		if !st.fits && !blocks(t, f, txnOf(st.bytes)) {
			t.Fatalf("step %d: %s: fit, want it to wait", i, st.what)
		}
	}
}

func TestFeedClosedHoldsSendersUntilTheirStreamEnds(t *testing.T) {
	f := newFeed(100, budget.New(10))
	if !fits(t, f, txnOf(1)) {
		t.Fatal("send to an empty feed blocked")
	}
	f.close()
	if !blocks(t, f, txnOf(1)) {
		t.Fatal("a closed feed took a transaction")
	}
	// What was sent before the close is still delivered, then the end.
	if txn, ok := <-f.out(); !ok || txn.Bytes != 1 {
		t.Fatalf("got %v, %v; want the transaction sent before the close", txn, ok)
	}
	if _, ok := <-f.out(); ok {
		t.Fatal("feed not closed")
	}
}

// TestFeedTrySend checks that trySend hands a transaction over only when
// neither the budget nor the channel would make it wait, and keeps no
// charge for one it refuses.
func TestFeedTrySend(t *testing.T) {
	tests := []struct {
		name    string
		budget  int64
		slots   int
		before  []int // weights sent first
		closed  bool
		bytes   int
		want    bool
		wantFed int64 // bytes held afterwards
	}{
		{name: "room in both", budget: 10, slots: 2, bytes: 4, want: true, wantFed: 4},
		{name: "budget full", budget: 10, slots: 4, before: []int{8}, bytes: 4, wantFed: 8},
		{name: "channel full", budget: 10, slots: 1, before: []int{2}, bytes: 2, wantFed: 2},
		{name: "closed", budget: 10, slots: 2, closed: true, bytes: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed(tt.slots, budget.New(tt.budget))
			for _, w := range tt.before {
				if !f.trySend(txnOf(w)) {
					t.Fatalf("trySend of %d bytes into an empty feed refused", w)
				}
			}
			if tt.closed {
				f.close()
			}
			if got := f.trySend(txnOf(tt.bytes)); got != tt.want {
				t.Errorf("trySend = %v, want %v", got, tt.want)
			}
			if got := f.room.Held(); got != tt.wantFed {
				t.Errorf("budget holds %d bytes, want %d", got, tt.wantFed)
			}
		})
	}
}
