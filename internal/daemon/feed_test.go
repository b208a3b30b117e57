package daemon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/projector-dev/projector/transform"
)

func txnOf(events int) *transform.Transaction {
	return &transform.Transaction{Events: make([]transform.Event, events)}
}

// sendWithin reports whether send returns within wait; a send still
// blocked then is cancelled.
func sendWithin(t *testing.T, f *feed, txn *transform.Transaction, wait time.Duration) bool {
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
func fits(t *testing.T, f *feed, txn *transform.Transaction) bool {
	t.Helper()
	return sendWithin(t, f, txn, 10*time.Second)
}

func blocks(t *testing.T, f *feed, txn *transform.Transaction) bool {
	t.Helper()
	return !sendWithin(t, f, txn, 100*time.Millisecond)
}

func TestFeedIsBoundedByEvents(t *testing.T) {
	f := newFeed(100, 10)
	for range 2 {
		if !fits(t, f, txnOf(4)) {
			t.Fatal("8 of 10 events did not fit")
		}
	}
	if !blocks(t, f, txnOf(4)) {
		t.Fatal("12 events fit in a feed of 10")
	}
	if !fits(t, f, txnOf(2)) {
		t.Fatal("10 of 10 events did not fit")
	}
	// Taking a transaction makes room for its events.
	f.taken(<-f.out())
	if !fits(t, f, txnOf(3)) {
		t.Fatal("no room after a transaction was taken")
	}
	for range 3 {
		f.taken(<-f.out())
	}
	// A transaction larger than the whole feed passes, alone.
	if !fits(t, f, txnOf(50)) {
		t.Fatal("a transaction of 50 events never fits a feed of 10")
	}
	if !blocks(t, f, txnOf(0)) {
		t.Fatal("an empty transaction fit beside one filling the feed")
	}
	f.taken(<-f.out())
	if !fits(t, f, txnOf(0)) {
		t.Fatal("an empty transaction did not fit an empty feed")
	}
}

func TestFeedClosedHoldsSendersUntilTheirStreamEnds(t *testing.T) {
	f := newFeed(100, 10)
	if !fits(t, f, txnOf(1)) {
		t.Fatal("send to an empty feed blocked")
	}
	f.close()
	if !blocks(t, f, txnOf(1)) {
		t.Fatal("a closed feed took a transaction")
	}
	// What was sent before the close is still delivered, then the end.
	if txn, ok := <-f.out(); !ok || len(txn.Events) != 1 {
		t.Fatalf("got %v, %v; want the transaction sent before the close", txn, ok)
	}
	if _, ok := <-f.out(); ok {
		t.Fatal("feed not closed")
	}
}
