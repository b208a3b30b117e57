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

// refresher coalesces the refreshes waiting reads need: a wait needs one
// refresh of the view's index that starts after its change is durable.
// While a refresh runs, every wait that arrives joins the next one, which
// starts when it ends; so a view is refreshed at most once at a time, and
// once for all who are waiting, however many they are. Nothing is
// refreshed while nobody waits.
type refresher struct {
	ctx     context.Context
	refresh func(ctx context.Context, view string) error

	mu      sync.Mutex
	views   map[string]*viewRefresh
	running sync.WaitGroup
	// count is how many refreshes ran, for tests.
	count atomic.Int64
}

// viewRefresh is one view's refreshes.
type viewRefresh struct {
	running bool
	next    *round // the refresh to start after the running one
}

// round is one refresh and those waiting for it.
type round struct {
	done chan struct{}
	err  error
}

func newRefresher(ctx context.Context, refresh func(context.Context, string) error) *refresher {
	return &refresher{ctx: ctx, refresh: refresh, views: map[string]*viewRefresh{}}
}

// wait returns once a refresh of view that started after the call has
// ended, with its error, or when ctx ends. A refresh the search engine
// did not answer in time (sink.timeout, on a busy cluster) is asked for
// again while ctx lasts: the wait ends in its own timeout (504), not in
// an error (502), unless a refresh fails otherwise.
func (r *refresher) wait(ctx context.Context, view string) error {
	for {
		err := r.once(ctx, view)
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

// once waits for one refresh of view that starts after the call.
func (r *refresher) once(ctx context.Context, view string) error {
	r.mu.Lock()
	vr := r.views[view]
	if vr == nil {
		vr = &viewRefresh{}
		r.views[view] = vr
	}
	if vr.next == nil {
		vr.next = &round{done: make(chan struct{})}
	}
	rd := vr.next
	if !vr.running {
		r.start(view, vr)
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
	vr.next, vr.running = nil, true
	r.running.Add(1)
	go func() {
		defer r.running.Done()
		ctx, cancel := context.WithTimeout(r.ctx, refreshTimeout)
		rd.err = r.refresh(ctx, view)
		cancel()
		r.count.Add(1)
		close(rd.done)
		r.mu.Lock()
		defer r.mu.Unlock()
		vr.running = false
		if vr.next != nil {
			r.start(view, vr)
		}
	}()
}

// close waits for the refreshes in flight; r.ctx ending cuts them short.
func (r *refresher) close() { r.running.Wait() }
