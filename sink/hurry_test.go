package sink

import (
	"log/slog"
	"testing"
	"time"
)

// TestHurry: a lane holds a partial batch until the flush interval; Hurry
// sends it at once, and the documents given to a lane that held nothing
// when Hurry was called, and stops once the lane's queue is empty.
func TestHurry(t *testing.T) {
	w, err := NewWriter(nil, WriterOptions{FlushInterval: time.Hour, Concurrency: 1}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l := w.lanes[0]
	one := []item{{cost: 10}}
	l.push(one)
	if batch, wait := l.take(false); batch != nil || wait <= 0 {
		t.Fatalf("a partial batch before the flush interval: %d items, wait %s; want it held", len(batch), wait)
	}
	w.Hurry()
	if batch, _ := l.take(false); len(batch) != 1 {
		t.Fatalf("after Hurry: %d items, want the one queued", len(batch))
	}
	l.push(one)
	if batch, _ := l.take(false); batch != nil {
		t.Fatalf("after the hurried queue was sent: %d items, want the next held again", len(batch))
	}
	l.take(true) // empty the lane
	w.Hurry()
	if batch, _ := l.take(false); batch != nil {
		t.Fatalf("an empty lane returned %d items", len(batch))
	}
	l.push(one)
	if batch, _ := l.take(false); len(batch) != 1 {
		t.Fatalf("documents given after Hurry to an empty lane: %d items, want them sent at once", len(batch))
	}
}
