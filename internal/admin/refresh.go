package admin

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
)

// refreshTimeout bounds one refresh of a view's index: as long as any
// wait may last, so that a slow refresh (a busy cluster) ends the waits in
// their own timeout (504) rather than in an error.
const refreshTimeout = MaxWaitTimeout

// Mark says how far a view's index has acknowledged documents: Settled
// counts the groups acknowledged with every earlier one and only moves
// forward within one run of the pipeline, Run changes when the pipeline
// restarts, and Index names the index the view's alias serves. The zero
// Mark is unknown and covers nothing.
type Mark struct {
	Run, Settled uint64
	Index        string
}

// covers reports whether a refresh that started at m makes visible what
// was durable at need.
func (m Mark) covers(need Mark) bool {
	return m.Run != 0 && m.Run == need.Run && m.Index == need.Index && m.Settled >= need.Settled
}

// Marker is what a Daemon may offer besides, so that waits share
// refreshes: a wait needs a refresh that started once its change was
// durable, and one whose Mark, taken as it started, is at or past the
// Mark taken after the change was found durable is such a refresh, even
// if it started before the wait asked.
type Marker interface {
	Mark(view string) Mark
}

// refresher coalesces the refreshes waiting reads need: a wait needs one
// refresh of the view's index that starts after its change is durable.
// A wait joins the refresh that runs when its Mark shows that refresh
// started after the change was durable, and needs none when the last one
// did; otherwise it joins the next one, which starts when the running one
// ends. So a view is refreshed at most once at a time, and once for all
// who are waiting, however many they are. Nothing is refreshed while
// nobody waits.
type refresher struct {
	ctx     context.Context
	refresh func(ctx context.Context, view string) error
	// mark, when set, tells where the index is; without it every wait
	// takes a refresh that starts after it asks.
	mark func(view string) Mark
	// bulk, when set, asks for the refresh from the next bulk request
	// that writes the view's index (WriteRefresher); a round falls back
	// to refresh when it cannot serve.
	bulk func(ctx context.Context, view string) (Mark, bool, error)

	mu      sync.Mutex
	views   map[string]*viewRefresh
	running sync.WaitGroup
	// count is how many refreshes ran, for tests.
	count atomic.Int64
}

// viewRefresh is one view's refreshes.
type viewRefresh struct {
	current *round // the refresh running, if any
	next    *round // the refresh to start after the running one
	last    *round // the last refresh that ended without an error
}

// round is one refresh and those waiting for it.
type round struct {
	done chan struct{}
	err  error
	// started is the Mark when the refresh started: for a bulk
	// request's refresh, the Mark when the round started until the
	// request was answered, then the Mark taken as it was sent.
	started Mark
}

func newRefresher(ctx context.Context, refresh func(context.Context, string) error, mark func(string) Mark) *refresher {
	return &refresher{ctx: ctx, refresh: refresh, mark: mark, views: map[string]*viewRefresh{}}
}

// wait returns once a refresh of view that started after what was durable
// at need has ended, with its error, or when ctx ends. A refresh the
// search engine did not answer in time (sink.timeout, on a busy cluster)
// is asked for again while ctx lasts: the wait ends in its own timeout
// (504), not in an error (502), unless a refresh fails otherwise.
func (r *refresher) wait(ctx context.Context, view string, need Mark) error {
	for {
		err := r.once(ctx, view, need)
		if err == nil || ctx.Err() != nil || !timedOut(err) {
			return err
		}
	}
}

// timedOut reports whether err is a refresh's transport or context
// running out of time.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// once waits for one refresh of view that covers need.
func (r *refresher) once(ctx context.Context, view string, need Mark) error {
	r.mu.Lock()
	vr := r.views[view]
	if vr == nil {
		vr = &viewRefresh{}
		r.views[view] = vr
	}
	var rd *round
	switch {
	case vr.last != nil && vr.last.started.covers(need):
		r.mu.Unlock()
		return nil // a refresh that ended already made it visible
	case vr.current != nil && vr.current.started.covers(need):
		rd = vr.current
	default:
		if vr.next == nil {
			vr.next = &round{done: make(chan struct{})}
		}
		rd = vr.next
		if vr.current == nil {
			r.start(view, vr)
		}
	}
	r.mu.Unlock()
	select {
	case <-rd.done:
		return rd.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// start runs vr's next round; r.mu is held.
func (r *refresher) start(view string, vr *viewRefresh) {
	rd := vr.next
	vr.next, vr.current = nil, rd
	if r.mark != nil {
		rd.started = r.mark(view)
	}
	r.running.Add(1)
	go func() {
		defer r.running.Done()
		ctx, cancel := context.WithTimeout(r.ctx, refreshTimeout)
		started, err := r.refreshOnce(ctx, view, rd.started)
		cancel()
		r.count.Add(1)
		r.mu.Lock()
		defer r.mu.Unlock()
		rd.started, rd.err = started, err
		close(rd.done)
		vr.current = nil
		if rd.err == nil {
			vr.last = rd
		}
		if vr.next != nil {
			r.start(view, vr)
		}
	}()
}

// refreshOnce makes view searchable as of at least from, the Mark when
// the round started, and returns the Mark the refresh covers. It takes
// the refresh of the next bulk request that writes view's index when the
// daemon offers it and that request was sent at or past from: a bulk
// request's refresh shows what the engine acknowledged before the request
// was sent, on the one shard of the index, so its Mark taken as it was
// sent is as good as an explicit refresh's taken as it started. A request
// sent before from (one already in flight, carrying groups acknowledged
// after from was taken, or while an earlier group was still in flight)
// is not enough, nor is one whose answer did not report the refresh; then
// the index is refreshed explicitly.
func (r *refresher) refreshOnce(ctx context.Context, view string, from Mark) (Mark, error) {
	if r.bulk != nil && from.Run != 0 {
		m, ok, err := r.bulk(ctx, view)
		if err == nil && ok && m.covers(from) {
			return m, nil
		}
		if ctx.Err() != nil {
			return from, ctx.Err()
		}
	}
	return from, r.refresh(ctx, view)
}

// close waits for the refreshes in flight; r.ctx ending cuts them short.
func (r *refresher) close() { r.running.Wait() }
