package transform

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform/state"
)

// TestCollectLingers checks which transactions one group takes: those
// already waiting, and, while a stream is steady, those arriving within
// GroupLinger, but never after a quiet spell, on a stream slower than one
// transaction per GroupLinger, or for snapshot rows.
func TestCollectLingers(t *testing.T) {
	// Long next to the 20 ms a later transaction takes to come, so that a
	// loaded machine does not blur waiting and not waiting.
	const linger = time.Second
	streamed := func() *capture.Transaction { return &capture.Transaction{Changes: make([]capture.Change, 1)} }
	copied := func() *capture.Transaction {
		return &capture.Transaction{Snapshot: true, Changes: make([]capture.Change, 1)}
	}
	cases := []struct {
		name   string
		linger time.Duration
		steady bool // the last group was collected just now
		slow   bool // the last group was collected two lingers ago
		first  *capture.Transaction
		later  bool // a second transaction arrives 20 ms after the first is taken
		want   int
		waits  bool // collect waits the whole linger (from the first transaction)
	}{
		{name: "no linger: applied at once", linger: 0, steady: true, first: streamed(), later: true, want: 1},
		{name: "steady stream: the next transaction joins", linger: linger, steady: true, first: streamed(), later: true, want: 2, waits: true},
		{name: "steady stream, nothing comes: waits the linger", linger: linger, steady: true, first: streamed(), want: 1, waits: true},
		{name: "after a quiet spell: applied at once", linger: linger, steady: false, first: streamed(), later: true, want: 1},
		{name: "slower than one per linger: applied at once", linger: linger, slow: true, first: streamed(), later: true, want: 1},
		{name: "snapshot rows: applied at once", linger: linger, steady: true, first: copied(), later: true, want: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &Engine{opts: Options{MaxGroupEvents: 100, GroupLinger: c.linger}}
			switch {
			case c.steady:
				e.lastGroup = time.Now()
			case c.slow:
				e.lastGroup = time.Now().Add(-2 * linger)
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

// TestCollectLingerEndsWhenHurried checks that a reader waiting for a
// change (Hurry) ends a group's lingering: the group is applied at once,
// not after the linger.
func TestCollectLingerEndsWhenHurried(t *testing.T) {
	e := &Engine{opts: Options{MaxGroupEvents: 100, GroupLinger: time.Hour}, lastGroup: time.Now(),
		hurry: make(chan struct{}, 1)}
	done := make(chan []*capture.Transaction)
	go func() {
		done <- e.collect(context.Background(), &capture.Transaction{}, make(chan *capture.Transaction))
	}()
	time.Sleep(20 * time.Millisecond)
	e.Hurry()
	e.Hurry() // a second call while one is pending neither blocks nor queues more
	select {
	case group := <-done:
		if len(group) != 1 {
			t.Fatalf("group of %d transactions, want 1", len(group))
		}
	case <-time.After(time.Minute):
		t.Fatal("the group still lingers a minute after Hurry")
	}
}

// submitCounter counts the submissions an engine makes: one per group
// whose documents fit one page.
type submitCounter struct {
	*memoryIndex
	submits atomic.Int64
}

func (c *submitCounter) Submit(ctx context.Context, docs []sink.Document, ack func()) error {
	c.submits.Add(1)
	return c.memoryIndex.Submit(ctx, docs, ack)
}

// TestGroupLingerGroupsAPacedStream runs the engine over a stream of
// single-insert transactions paced like a light load, with and without
// GroupLinger: lingering, it applies them in fewer groups (fewer commits,
// syncs and submissions), and every change is still written and confirmed.
func TestGroupLingerGroupsAPacedStream(t *testing.T) {
	const (
		txns  = 40
		every = 10 * time.Millisecond
	)
	run := func(t *testing.T, linger time.Duration) int64 {
		store, err := state.Open(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close() //nolint:errcheck // test cleanup
		index := &submitCounter{memoryIndex: newMemoryIndex()}
		var confirmed atomic.Uint64
		confirm := func(_ string, lsn capture.LSN) { confirmed.Store(max(confirmed.Load(), uint64(lsn))) }
		engine, err := NewEngine(store, []*View{orderHistory()}, index, confirm, Options{GroupLinger: linger},
			NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		in := make(chan *capture.Transaction)
		done := make(chan error, 1)
		go func() { done <- engine.Run(ctx, in) }()
		lsn := capture.LSN(100)
		for i := range txns {
			lsn += 10
			in <- &capture.Transaction{Source: "orders", XID: uint32(lsn), CommitLSN: lsn, EndLSN: lsn, CommitTime: time.Now(),
				Changes: []capture.Change{ins("orders", capture.Row{"id": int64(i + 1), "status": "new"})}}
			time.Sleep(every)
		}
		deadline := time.Now().Add(10 * time.Second)
		for capture.LSN(confirmed.Load()) < lsn {
			if time.Now().After(deadline) {
				t.Fatalf("position %s not confirmed (at %s)", lsn, capture.LSN(confirmed.Load()))
			}
			time.Sleep(time.Millisecond)
		}
		close(in)
		if err := <-done; err != nil {
			t.Fatalf("engine: %v", err)
		}
		for i := range txns {
			if doc := index.doc(t, strconv.Itoa(i+1)); doc == nil || doc["status"] != "new" {
				t.Errorf("order %d: document %v, want status new", i+1, doc)
			}
		}
		return index.submits.Load()
	}
	alone := run(t, 0)
	grouped := run(t, 5*every)
	t.Logf("%d transactions, one every %s: %d submissions without linger, %d with", txns, every, alone, grouped)
	if alone < txns*3/4 {
		t.Errorf("without linger, %d submissions for %d paced transactions: the test no longer paces them", alone, txns)
	}
	if grouped > alone/2 {
		t.Errorf("with a linger of %s, %d submissions for %d transactions one every %s, want at most half of %d",
			5*every, grouped, txns, every, alone)
	}
}
