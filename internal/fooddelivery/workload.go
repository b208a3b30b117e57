package fooddelivery

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// Workload changes the service databases the way the live services would,
// with a randomized mix of every [Op], from several workers at once. It needs
// data to act on: run [Load] first.
type Workload struct {
	Rate    float64 // changes per second over all workers; 0 means as fast as possible
	Ops     int     // stop after drawing this many changes; 0 means until the context ends
	Workers int     // concurrent workers; at least 1
	Seed    uint64  // the same seed draws the same sequence of choices per worker
	// Tally, when set, receives the counts as they happen, so a caller can
	// report progress while Run is going.
	Tally *Tally
}

// Run makes changes until w.Ops are done or ctx ends, and returns how many of
// each kind it made. Ending ctx stops it cleanly and is not an error; the
// first failing change stops every worker and is returned.
func (w Workload) Run(ctx context.Context, dbs *DBs) (Counts, error) {
	tally := w.Tally
	if tally == nil {
		tally = &Tally{}
	}
	workers := max(1, w.Workers)
	var limiter *rate.Limiter
	if w.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(w.Rate), workers)
	}
	var issued atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for i := range workers {
		wk := &worker{dbs: dbs, gen: newGenerator(w.Seed, uint64(i)+1), mix: mix(), tally: tally}
		g.Go(func() error {
			for w.Ops <= 0 || issued.Add(1) <= int64(w.Ops) {
				if limiter != nil && limiter.Wait(gctx) != nil {
					return nil // ended, or would end before the next turn
				}
				if err := wk.step(gctx); err != nil || gctx.Err() != nil {
					return err
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return tally.Snapshot(), err
}

// worker makes changes one after another.
type worker struct {
	dbs   *DBs
	gen   *generator
	mix   []weighted
	tally *Tally
}

// step draws one change and makes it. An error after ctx has ended is the
// cancellation showing through the driver, not a failure.
func (w *worker) step(ctx context.Context) error {
	op := w.draw()
	err := op.run(ctx, w)
	switch {
	case ctx.Err() != nil:
		return nil
	case errors.Is(err, errNoRow):
		w.tally.add(OpSkipped)
	case err != nil:
		return fmt.Errorf("%s: %w", op.op, err)
	default:
		w.tally.add(op.op)
	}
	return nil
}

func (w *worker) draw() weighted {
	total := 0
	for _, m := range w.mix {
		total += m.weight
	}
	n := w.gen.r.IntN(total)
	for _, m := range w.mix {
		if n < m.weight {
			return m
		}
		n -= m.weight
	}
	return w.mix[len(w.mix)-1]
}

// weighted is one kind of change and how often it is drawn.
type weighted struct {
	op     Op
	weight int
	run    func(context.Context, *worker) error
}

// mix weighs inserts above deletes so the data set keeps its size, and
// status changes above new orders so that orders do not pile up unfinished;
// every kind is drawn often enough to show up within a few hundred changes.
func mix() []weighted {
	return []weighted{
		{OpOrderPlace, 6, placeOrder},
		{OpOrderAdvance, 10, advanceOrder},
		{OpOrderNote, 4, noteOrder},
		{OpOrderDelete, 3, deleteOrder},
		{OpLineItemAdd, 6, addLineItem},
		{OpLineItemUpdate, 4, updateLineItem},
		{OpLineItemMove, 4, moveLineItem},
		{OpLineItemDelete, 3, deleteLineItem},
		{OpConsumerInsert, 6, insertConsumer},
		{OpConsumerRename, 4, renameConsumer},
		{OpConsumerDelete, 3, deleteConsumer},
		{OpRestaurantInsert, 6, insertRestaurant},
		{OpRestaurantRename, 4, renameRestaurant},
		{OpRestaurantDelete, 3, deleteRestaurant},
		{OpMenuItemInsert, 6, insertMenuItem},
		{OpMenuItemRename, 4, renameMenuItem},
		{OpMenuItemDelete, 3, deleteMenuItem},
		{OpDeliveryCreate, 6, createDelivery},
		{OpDeliveryAdvance, 4, advanceDelivery},
		{OpDeliveryDelete, 3, deleteDelivery},
	}
}
