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

// paced returns an engine whose recent arrivals came one every gap, as a
// steady stream's do, and the commit time of the next transaction.
func paced(opts Options, gap time.Duration) (*Engine, time.Time) {
	e := &Engine{opts: opts, hurry: make(chan struct{}, 1)}
	at := time.Now().Add(-10 * gap)
	for range arrivalsWarm + 1 {
		e.arrivals.observe(&capture.Transaction{CommitTime: at}, 2*opts.GroupLinger)
		at = at.Add(gap)
	}
	return e, at
}

// TestLingerPlans checks how long a group waits for company, from the
// stream's recent arrivals: a steady stream four of its gaps, within half
// the linger and the whole linger, sent at once after; a sparse stream,
// snapshot rows, a stream not yet measured and one after a quiet spell not
// at all.
func TestLingerPlans(t *testing.T) {
	const linger = 60 * time.Millisecond
	streamed := func(at time.Time) *capture.Transaction { return &capture.Transaction{CommitTime: at} }
	cases := []struct {
		name string
		gap  time.Duration // between the recent arrivals
		// quiet is how long after the last arrival the first transaction
		// of the group comes, rather than gap.
		quiet  time.Duration
		copied bool
		warm   bool // arrivals were measured (false: the stream just started)
		want   lingerPlan
	}{
		{name: "50 a second: four gaps, then flushed", gap: 20 * time.Millisecond, warm: true,
			want: lingerPlan{wait: linger, flush: true}},
		{name: "20 a second: at most the linger", gap: 29 * time.Millisecond, warm: true,
			want: lingerPlan{wait: linger, flush: true}},
		{name: "10 a second: slower than two per linger, at once", gap: 100 * time.Millisecond, warm: true},
		{name: "500 a second: at least half the linger", gap: 2 * time.Millisecond, warm: true,
			want: lingerPlan{wait: linger / 2, flush: true}},
		{name: "80 a second: four gaps", gap: 12500 * time.Microsecond, warm: true,
			want: lingerPlan{wait: 50 * time.Millisecond, flush: true}},
		{name: "after a quiet spell: at once", gap: 20 * time.Millisecond, quiet: time.Minute, warm: true},
		{name: "snapshot rows: at once", gap: 20 * time.Millisecond, copied: true, warm: true},
		{name: "stream not measured yet: at once", gap: 20 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{MaxGroupEvents: 100, GroupLinger: linger}
			e, next := paced(opts, c.gap)
			if !c.warm {
				e = &Engine{opts: opts}
			}
			if c.quiet > 0 {
				next = next.Add(c.quiet - c.gap)
			}
			first := streamed(next)
			first.Snapshot = c.copied
			e.arrivals.observe(first, 2*linger)
			if got := e.lingerFor(first); got != c.want {
				t.Errorf("plan %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestLingerRecoversAfterAQuietSpell checks that a quiet spell makes a
// stream look sparse for a few transactions, not for long.
func TestLingerRecoversAfterAQuietSpell(t *testing.T) {
	const linger = 60 * time.Millisecond
	e, at := paced(Options{GroupLinger: linger}, 20*time.Millisecond)
	at = at.Add(time.Hour)
	n := 0
	for ; n < 20; n++ {
		txn := &capture.Transaction{CommitTime: at}
		e.arrivals.observe(txn, 2*linger)
		if n > 0 && e.lingerFor(txn).wait > 0 {
			break
		}
		at = at.Add(20 * time.Millisecond)
	}
	if n < 2 || n > 8 {
		t.Errorf("lingers again %d transactions after an hour's quiet spell, want between 2 and 8", n)
	}
}

// TestCollectLingers checks which transactions one group takes: those
// already waiting, and, while the stream is light and steady, those
// arriving within GroupLinger, but never for a sparse stream.
func TestCollectLingers(t *testing.T) {
	// Long next to the 20 ms a later transaction takes to come, so that a
	// loaded machine does not blur waiting and not waiting.
	const linger = time.Second
	cases := []struct {
		name    string
		linger  time.Duration
		gap     time.Duration
		later   bool // a second transaction arrives 20 ms after the first is taken
		waiting bool // a second transaction is waiting already, and fills the group
		want    int
		waits   bool // collect waits the whole linger (from the first transaction)
		flush   bool // the group is to be sent at once
	}{
		{name: "no linger: applied at once", linger: 0, gap: 400 * time.Millisecond, later: true, want: 1},
		{name: "light stream: the next transaction joins", linger: linger, gap: 400 * time.Millisecond, later: true,
			want: 2, waits: true, flush: true},
		{name: "light stream, nothing comes: waits the linger", linger: linger, gap: 400 * time.Millisecond, want: 1,
			waits: true, flush: true},
		{name: "sparse stream: applied at once", linger: linger, gap: 2 * linger, later: true, want: 1},
		{name: "group filled by what waits: not flushed", linger: linger, gap: 400 * time.Millisecond, waiting: true, want: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			maxEvents := 100
			if c.waiting {
				maxEvents = 2
			}
			e, next := paced(Options{MaxGroupEvents: maxEvents, GroupLinger: c.linger}, c.gap)
			in := make(chan *capture.Transaction, 1)
			if c.waiting {
				in <- &capture.Transaction{CommitTime: next.Add(c.gap), Changes: make([]capture.Change, 1)}
			}
			if c.later {
				go func() {
					time.Sleep(20 * time.Millisecond)
					in <- &capture.Transaction{CommitTime: next.Add(c.gap), Changes: make([]capture.Change, 1)}
				}()
			}
			start := time.Now()
			group, plan := e.collect(context.Background(), &capture.Transaction{CommitTime: next, Changes: make([]capture.Change, 1)}, in)
			took := time.Since(start)
			if len(group) != c.want {
				t.Errorf("group of %d transactions, want %d", len(group), c.want)
			}
			if plan.flush != c.flush {
				t.Errorf("flush %v, want %v", plan.flush, c.flush)
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
	e, next := paced(Options{MaxGroupEvents: 100, GroupLinger: time.Hour}, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	in := make(chan *capture.Transaction)
	group, _ := e.collect(ctx, &capture.Transaction{CommitTime: next}, in)
	if len(group) != 1 {
		t.Fatalf("group of %d transactions, want 1", len(group))
	}
}

// TestCollectLingerEndsWhenHurried checks that a reader waiting for a
// change (Hurry) ends a group's lingering: the group is applied at once,
// not after the linger.
func TestCollectLingerEndsWhenHurried(t *testing.T) {
	e, next := paced(Options{MaxGroupEvents: 100, GroupLinger: time.Hour}, time.Minute)
	done := make(chan []*capture.Transaction)
	go func() {
		group, _ := e.collect(context.Background(), &capture.Transaction{CommitTime: next}, make(chan *capture.Transaction))
		done <- group
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
	flushes atomic.Int64
}

// Flush counts the groups the engine asks to be sent at once.
func (c *submitCounter) Flush() { c.flushes.Add(1) }

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
	run := func(t *testing.T, linger time.Duration) (submits, flushes int64) {
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
		// Buffered, as the daemon's feed is: a lingering group takes what
		// arrived while it waited.
		in := make(chan *capture.Transaction, txns)
		done := make(chan error, 1)
		go func() { done <- engine.Run(ctx, in) }()
		lsn := capture.LSN(100)
		for i := range txns {
			lsn += 10
			in <- &capture.Transaction{Source: "orders", XID: uint32(lsn), CommitLSN: lsn, EndLSN: lsn, CommitTime: time.Now(),
				Changes: []capture.Change{ins("orders", capture.Row{"id": int64(i + 1), "status": "new"})}}
			time.Sleep(every)
		}
		deadline := time.Now().Add(time.Minute)
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
		return index.submits.Load(), index.flushes.Load()
	}
	alone, flushedAlone := run(t, 0)
	grouped, flushed := run(t, 5*every)
	t.Logf("%d transactions, one every %s: %d submissions without linger, %d with (%d flushed)", txns, every, alone, grouped, flushed)
	if flushedAlone != 0 {
		t.Errorf("without linger, %d groups asked to be sent at once, want none", flushedAlone)
	}
	if flushed == 0 || flushed > grouped {
		t.Errorf("with a linger, %d of %d groups asked to be sent at once, want some and at most all", flushed, grouped)
	}
	if alone < txns*3/4 {
		t.Errorf("without linger, %d submissions for %d paced transactions: the test no longer paces them", alone, txns)
	}
	if grouped > alone/2 {
		t.Errorf("with a linger of %s, %d submissions for %d transactions one every %s, want at most half of %d",
			5*every, grouped, txns, every, alone)
	}
}
