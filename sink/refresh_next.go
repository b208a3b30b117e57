package sink

import (
	"context"
	"slices"
	"sync"
	"time"
)

// refreshTicket is one request that the next bulk request writing an
// index ask the engine to refresh what it wrote (refresh=true).
type refreshTicket struct {
	index string
	// sent is called on the lane just before the request goes out.
	sent func()
	// done is closed once the request was answered, or failed; ok says
	// whether the engine reported refreshing index.
	done chan struct{}
	ok   bool
}

// refreshTickets holds the tickets no bulk request has taken yet.
type refreshTickets struct {
	mu      sync.Mutex
	waiting []*refreshTicket
}

// RefreshWithNext makes the next bulk request that writes documents to
// index, if one is sent within within or a lane holds documents of index
// then (a lane sends one request at a time: they go out once its request
// in flight is answered), ask the engine to refresh the
// shards it wrote once its writes are done (refresh=true), in the write
// path instead of behind the engine's refresh queue. sent is called on
// the sending goroutine just before that request goes out, so the caller
// can note what was acknowledged by then. It returns true once the engine
// answered that request reporting a forced refresh of index
// (forced_refresh on one of its documents there); false when no request
// wrote index within within, or the request failed or did not report it.
// It hurries the lanes, so that what they hold goes out now.
//
// What the refresh shows: every write to the shards it refreshed that
// the engine had indexed before it, which includes everything the engine
// acknowledged before the request was sent. With an index of one shard
// that is every document of index acknowledged before sent was called,
// and the request's own. On an index of several shards it says nothing of
// the shards the request did not write. Nothing changes for bulk requests
// while nobody asks; safe to call from any goroutine.
func (w *Writer) RefreshWithNext(ctx context.Context, index string, within time.Duration, sent func()) (bool, error) {
	t := &refreshTicket{index: index, sent: sent, done: make(chan struct{})}
	w.refresh.mu.Lock()
	w.refresh.waiting = append(w.refresh.waiting, t)
	w.refresh.mu.Unlock()
	w.refreshWanted.Add(1)
	w.Hurry()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-t.done:
		return t.ok, nil
	case <-timer.C:
		if !w.holds(index) && w.dropTicket(t) {
			return false, nil
		}
	case <-ctx.Done():
		if w.dropTicket(t) {
			return false, ctx.Err()
		}
	case <-w.life.Done():
		// Stopping: the lanes send nothing more, whatever they hold.
		w.dropTicket(t)
		return false, nil
	}
	// A request took the ticket, or a lane holds documents of index.
	select {
	case <-t.done:
		return t.ok, nil
	case <-ctx.Done():
		w.dropTicket(t)
		return false, ctx.Err()
	case <-w.life.Done():
		w.dropTicket(t)
		return false, nil
	}
}

// dropTicket removes t if no request took it, and reports whether it did.
func (w *Writer) dropTicket(t *refreshTicket) bool {
	w.refresh.mu.Lock()
	defer w.refresh.mu.Unlock()
	i := slices.Index(w.refresh.waiting, t)
	if i < 0 {
		return false
	}
	w.refresh.waiting = slices.Delete(w.refresh.waiting, i, i+1)
	w.refreshWanted.Add(-1)
	return true
}

// takeTickets removes and returns the tickets for the indices items
// write, calling their sent hooks; it costs one atomic load while nobody
// asks for a refresh.
func (w *Writer) takeTickets(items []item) []*refreshTicket {
	if w.refreshWanted.Load() == 0 {
		return nil
	}
	w.refresh.mu.Lock()
	defer w.refresh.mu.Unlock()
	var taken []*refreshTicket
	w.refresh.waiting = slices.DeleteFunc(w.refresh.waiting, func(t *refreshTicket) bool {
		if !slices.ContainsFunc(items, func(it item) bool { return it.doc.Index == t.index }) {
			return false
		}
		taken = append(taken, t)
		return true
	})
	w.refreshWanted.Add(-int64(len(taken)))
	for _, t := range taken {
		if t.sent != nil {
			t.sent()
		}
	}
	return taken
}

// answerTickets tells each ticket whether the engine reported refreshing
// its index in the answer to sent (results nil: the request failed).
func answerTickets(tickets []*refreshTicket, sent []item, results []itemResult) {
	for _, t := range tickets {
		for i := range results {
			if results[i].ForcedRefresh && sent[i].doc.Index == t.index {
				t.ok = true
				break
			}
		}
		close(t.done)
	}
}

// holds reports whether a lane has documents of index queued.
func (w *Writer) holds(index string) bool {
	for _, l := range w.lanes {
		l.mu.Lock()
		found := slices.ContainsFunc(l.queue, func(it item) bool { return it.doc.Index == index })
		l.mu.Unlock()
		if found {
			return true
		}
	}
	return false
}
