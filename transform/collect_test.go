package transform

import (
	"context"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
)

// TestCollectLingers checks which transactions one group takes: those
// already waiting, and, while a stream is steady, those arriving within
// GroupLinger, but never after a quiet spell or for snapshot rows.
func TestCollectLingers(t *testing.T) {
	const linger = 200 * time.Millisecond
	streamed := func() *capture.Transaction { return &capture.Transaction{Changes: make([]capture.Change, 1)} }
	copied := func() *capture.Transaction {
		return &capture.Transaction{Snapshot: true, Changes: make([]capture.Change, 1)}
	}
	cases := []struct {
		name   string
		linger time.Duration
		steady bool // the last group was collected just now
		first  *capture.Transaction
		later  bool // a second transaction arrives 20 ms after the first is taken
		want   int
		waits  bool // collect waits the whole linger (from the first transaction)
	}{
		{name: "no linger: applied at once", linger: 0, steady: true, first: streamed(), later: true, want: 1},
		{name: "steady stream: the next transaction joins", linger: linger, steady: true, first: streamed(), later: true, want: 2, waits: true},
		{name: "steady stream, nothing comes: waits the linger", linger: linger, steady: true, first: streamed(), want: 1, waits: true},
		{name: "after a quiet spell: applied at once", linger: linger, steady: false, first: streamed(), later: true, want: 1},
		{name: "snapshot rows: applied at once", linger: linger, steady: true, first: copied(), later: true, want: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &Engine{opts: Options{MaxGroupEvents: 100, GroupLinger: c.linger}}
			if c.steady {
				e.lastGroup = time.Now()
			}
			in := make(chan *capture.Transaction, 1)
			if c.later {
				go func() {
					time.Sleep(20 * time.Millisecond)
					in <- streamed()
				}()
			}
			start := time.Now()
			group := e.collect(context.Background(), c.first, in)
			took := time.Since(start)
			if len(group) != c.want {
				t.Errorf("group of %d transactions, want %d", len(group), c.want)
			}
			if c.waits && took < linger {
				t.Errorf("returned after %s, before the linger of %s", took, linger)
			}
			if !c.waits && c.want == 1 && took >= linger {
				t.Errorf("waited %s for a group it should have applied at once", took)
			}
			if took >= 2*linger {
				t.Errorf("waited %s, more than the linger of %s counted from the first transaction", took, linger)
			}
		})
	}
}

// TestCollectLingerEndsWithContext checks that a lingering group is
// applied as soon as the engine stops.
func TestCollectLingerEndsWithContext(t *testing.T) {
	e := &Engine{opts: Options{MaxGroupEvents: 100, GroupLinger: time.Hour}, lastGroup: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	in := make(chan *capture.Transaction)
	group := e.collect(ctx, &capture.Transaction{}, in)
	if len(group) != 1 {
		t.Fatalf("group of %d transactions, want 1", len(group))
	}
}
