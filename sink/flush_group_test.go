package sink

import (
	"log/slog"
	"testing"
	"time"
)

// TestFlush: a lane that took a batch just now holds the next partial
// batch until the flush interval; Flush sends it at once, and leaves a
// lane that held nothing as it was, so that documents given to it later
// wait for company again.
func TestFlush(t *testing.T) {
	w, err := NewWriter(nil, WriterOptions{FlushInterval: time.Hour, Concurrency: 2}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	busy, empty := w.lanes[0], w.lanes[1]
	one := []item{{cost: 10}}
	busy.push(one)
	if batch, wait := busy.take(false); batch != nil || wait <= 0 {
		t.Fatalf("a partial batch before the flush interval: %d items, wait %s; want it held", len(batch), wait)
	}
	w.Flush()
	if batch, _ := busy.take(false); len(batch) != 1 {
		t.Fatalf("after Flush: %d items, want the one queued", len(batch))
	}
	busy.push(one)
	if batch, _ := busy.take(false); batch != nil {
		t.Fatalf("after the flushed queue was sent: %d items, want the next held again", len(batch))
	}
	empty.push(one)
	if batch, _ := empty.take(false); batch != nil {
		t.Fatalf("a lane that held nothing at Flush sent %d items at once, want them held", len(batch))
	}
}
