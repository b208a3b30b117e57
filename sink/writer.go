package sink

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/projector-dev/projector/internal/budget"
)

// ErrStopped is returned by Submit once the writer has stopped or is
// stopping: nothing submitted then could be acknowledged.
var ErrStopped = errors.New("sink writer stopped")

// Writer writes document revisions to the search engine with bulk
// requests and acknowledges each submission once all of its documents are
// durable.
//
// The contract: Submit hands over documents and an acknowledgement
// callback. Run sends them, several bulk requests at a time, retrying
// whatever the engine could not take yet for as long as it takes. A
// submission's ack is called exactly once, after every one of its
// documents was indexed, deleted, found to be older than what the index
// holds, or written to the dead-letter index; it is never called for a
// submission that was not fully written. Acks are not ordered among
// submissions: one is called as soon as its own documents are durable, so
// a caller that confirms positions from them puts them in order itself
// (projector's engine does so through its position ledger). Acks run on
// one goroutine and should return quickly.
type Writer struct {
	client  *Client
	opts    WriterOptions
	log     *slog.Logger
	metrics *Metrics
	seed    maphash.Seed

	budget *budget.Budget
	gate   *gate
	lanes  []*lane

	mu      sync.Mutex // orders submissions into the gate and the lanes
	life    context.Context
	stop    context.CancelCauseFunc
	started atomic.Bool

	// refresh holds the requests for a refresh with the next bulk request
	// (RefreshWithNext), refreshWanted counts them.
	refresh       refreshTickets
	refreshWanted atomic.Int64
}

// NewWriter prepares a writer for client; nothing is sent before Run.
// Its metrics are opts.Metrics, or else new ones registered on reg,
// unless reg is nil.
func NewWriter(client *Client, opts WriterOptions, reg prometheus.Registerer, log *slog.Logger) (*Writer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m := opts.Metrics
	if m == nil {
		if m, err = NewMetrics(reg); err != nil {
			return nil, err
		}
	}
	// Nothing is buffered yet: a writer before this one that stopped with
	// documents in flight dropped them.
	m.buffered.Set(0)
	if log == nil {
		log = slog.Default()
	}
	w := &Writer{
		client: client, opts: opts, log: log.With("component", "sink"), metrics: m,
		seed: maphash.MakeSeed(), budget: budget.New(opts.MaxBufferedBytes), gate: newGate(),
	}
	w.life, w.stop = context.WithCancelCause(context.Background())
	for range opts.Concurrency {
		w.lanes = append(w.lanes, newLane(w))
	}
	return w, nil
}

// Run writes submitted documents until ctx is cancelled or a fatal error
// occurs (the engine refuses the credentials or the requests themselves,
// or refuses a dead letter). On cancellation it keeps writing what it
// holds for up to DrainTimeout (not at all with NoDrain), delivers the
// acks that became due and returns nil; documents not written by then are
// never acknowledged.
func (w *Writer) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("sink writer: Run called twice")
	}
	g, gctx := errgroup.WithContext(ctx)
	// Refuse new submissions as soon as the writer starts stopping.
	defer context.AfterFunc(gctx, func() { w.stop(ErrStopped) })()
	lanes, lctx := errgroup.WithContext(gctx)
	for _, l := range w.lanes {
		lanes.Go(func() error { return l.run(lctx) })
	}
	lanesDone := make(chan struct{})
	g.Go(func() error {
		defer close(lanesDone)
		return lanes.Wait()
	})
	g.Go(func() error {
		w.gate.deliver(lanesDone)
		return nil
	})
	err := g.Wait()
	w.stop(ErrStopped)
	return err
}

// Submit queues docs for writing and returns; ack (which may be nil) is
// called once they are all durable. It blocks while the writer holds
// MaxBufferedBytes of documents not yet durable, and returns ctx.Err() if
// ctx ends first, or ErrStopped once the writer is stopping. A document
// without an index, or with a negative version, fails the whole
// submission and nothing of it is queued; one without an id is
// dead-lettered, as the engine could never take it. The sources are sent as they
// are, without a copy: they must not change after Submit.
func (w *Writer) Submit(ctx context.Context, docs []Document, ack func()) error {
	var total int64
	costs := make([]int64, len(docs)) // each document's weight, estimated once
	for i := range docs {
		if err := docs[i].validate(); err != nil {
			return fmt.Errorf("submit documents: %w", err)
		}
		costs[i] = docs[i].cost()
		total += costs[i]
	}
	if ack == nil {
		ack = func() {}
	}
	charge, err := w.acquire(ctx, total)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.life.Err() != nil {
		w.release(charge)
		return ErrStopped
	}
	sub := &submission{remaining: len(docs), ack: ack, charge: charge}
	w.gate.add(sub)
	w.enqueue(docs, costs, sub)
	return nil
}

// acquire waits for buffer room for n bytes of documents, giving up when
// ctx ends or the writer stops, and returns the charge to release.
// Submissions larger than the whole buffer pass alone.
func (w *Writer) acquire(ctx context.Context, n int64) (int64, error) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(w.life, cancel)()
	charge, err := w.budget.Acquire(actx, n)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, ErrStopped
	}
	w.metrics.buffered.Add(float64(charge))
	return charge, nil
}

func (w *Writer) release(n int64) {
	if n == 0 {
		return
	}
	w.metrics.buffered.Sub(float64(n))
	w.budget.Release(n)
}

// enqueue spreads docs over the lanes, keeping their order within each.
func (w *Writer) enqueue(docs []Document, costs []int64, sub *submission) {
	perLane := make([][]item, len(w.lanes))
	for i := range docs {
		d := &docs[i]
		n := laneOf(w.seed, d, len(w.lanes))
		perLane[n] = append(perLane[n], item{doc: *d, view: d.viewLabel(), sub: sub, cost: costs[i]})
	}
	// Every lane has its documents before any is woken, so that the first
	// to send can take the others' along (see lane.borrow).
	for n, items := range perLane {
		if len(items) > 0 {
			w.lanes[n].append(items)
		}
	}
	for n, items := range perLane {
		if len(items) > 0 {
			w.lanes[n].signal()
		}
	}
}
