package sink

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// item is one document on its way through a lane.
type item struct {
	doc  Document
	view string // metric label of the original document
	sub  *submission
	cost int64
	// stage says what doc is: the submitted revision, or one of the steps
	// that settle a revision the engine refused.
	stage stage
	// refused is the refused revision, from stageDeadLetter on.
	refused *Document
}

// stage is how far an item got. A refused revision is settled in two
// steps: its dead letter is written, then the older revision it would
// have replaced is deleted, so that the view never shows it as current.
type stage uint8

const (
	stageRevision   stage = iota // doc is the revision as submitted
	stageDeadLetter              // doc is the dead letter of the refused revision
	stageRetract                 // doc deletes the older revisions of the refused one
)

// lane queues the documents that hash to it and writes them one bulk
// request at a time, so two revisions of one document are never in
// flight together.
type lane struct {
	w     *Writer
	mu    sync.Mutex
	queue []item
	bytes int64
	since time.Time // when the oldest queued item arrived
	// taken is when the lane last took a batch: a lane that took none
	// for a whole flush interval is idle, and what arrives then is sent
	// at once (see take).
	taken time.Time
	wake  chan struct{}
	enc   encoder
	// hurry, set by Writer.Hurry, sends the queue without waiting for a
	// full batch or the flush interval, until the lane has emptied it.
	hurry atomic.Bool
	// writing is set, under mu, while the lane's own goroutine writes a
	// batch it took; held while another lane writes a batch that carries
	// some of this lane's documents (see borrow). Either way a request
	// with this lane's documents is in flight, and no other may start.
	writing, held bool
	// draining is set, under mu, once the lane's goroutine drains: it
	// then waits to be woken when released, queue or not (see release).
	draining bool
}

func newLane(w *Writer) *lane {
	// A new lane counts as busy for its first flush interval, as if it had
	// just taken a batch: the documents submitted at start arrive together.
	return &lane{w: w, wake: make(chan struct{}, 1), taken: time.Now()}
}

// append queues items without waking the lane.
func (l *lane) append(items []item) {
	l.mu.Lock()
	if len(l.queue) == 0 {
		l.since = time.Now()
	}
	l.queue = append(l.queue, items...)
	for i := range items {
		l.bytes += items[i].cost
	}
	l.mu.Unlock()
}

// signal wakes the lane if it sleeps, or makes its next sleep return at
// once.
func (l *lane) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// next waits for a batch: full by count or bytes, or as old as the flush
// interval. Once ctx ends it returns whatever is queued, and false when
// nothing is.
func (l *lane) next(ctx context.Context) ([]item, bool) {
	for {
		batch, wait := l.take(ctx.Err() != nil)
		if batch != nil {
			return batch, true
		}
		if ctx.Err() != nil {
			return nil, false
		}
		l.sleep(ctx, wait)
	}
}

// sleep waits for new items, the flush interval (when wait > 0) or ctx.
func (l *lane) sleep(ctx context.Context, wait time.Duration) {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
	case <-l.wake:
	case <-timeout:
	}
}

// take removes a batch when one is due, or when now is set and anything
// is queued. Otherwise it returns how long until the oldest item is due
// (zero when the queue is empty).
//
// A batch is due when it is full by count or bytes, when its oldest item
// waited the flush interval, or when the lane took no batch for a whole
// flush interval. The last makes a quiet stream's change go out as soon as
// it arrives instead of waiting for company that is not coming, while a
// busy lane still sends at most one partial batch per flush interval, as
// many requests as waiting for the interval would.
//
// A lane held by another (see borrow) takes nothing: it is woken once
// the request carrying its documents is answered.
func (l *lane) take(now bool) ([]item, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 || l.held {
		return nil, 0
	}
	at := time.Now()
	if !now {
		if wait := l.dueIn(at); wait > 0 {
			return nil, wait
		}
	}
	batch := l.takeLocked(nil, at, 0)
	l.writing = true
	return batch, 0
}

// dueIn is how long until the lane's queue is due to be sent, at at:
// zero when it is, see take. l.mu is held and the queue is not empty.
func (l *lane) dueIn(at time.Time) time.Duration {
	o := &l.w.opts
	if l.hurry.Load() || len(l.queue) >= o.BulkActions || l.bytes >= int64(o.BulkBytes) {
		return 0
	}
	due := l.since
	if l.taken.Before(due) {
		due = l.taken
	}
	return max(due.Add(o.FlushInterval).Sub(at), 0)
}

// takeLocked moves the front of the queue onto batch, as much as fits a
// request that already holds batch, size bytes of it, and returns batch.
// The first item of a request goes in whatever its size. l.mu is held.
func (l *lane) takeLocked(batch []item, at time.Time, size int64) []item {
	o := &l.w.opts
	n, taken := 0, int64(0)
	for n < len(l.queue) && len(batch)+n < o.BulkActions &&
		(len(batch)+n == 0 || size+taken+l.queue[n].cost <= int64(o.BulkBytes)) {
		taken += l.queue[n].cost
		n++
	}
	batch = append(batch, l.queue[:n]...)
	clear(l.queue[:n])
	l.queue = l.queue[n:]
	if len(l.queue) == 0 && cap(l.queue) > o.BulkActions {
		// The array a backlog grew is dropped once it drained, or the
		// snapshot's queue would stay reserved for the whole stream.
		l.queue = nil
	}
	l.bytes -= taken
	l.taken = at
	if len(l.queue) == 0 {
		l.hurry.Store(false)
	}
	return batch
}

// borrow adds to batch, a partial batch this lane took, the queues of the
// other lanes that are hurried (Flush, Hurry) and have no request in
// flight, as far as the request has room, so that one request carries
// what would otherwise be one small request per lane (a light stream's
// group spreads its few documents over all the lanes). The lanes it took
// from are held until release: each lane still has at most one request
// in flight, so two revisions of a document never are. Lanes that are
// not hurried are left alone: a backlog keeps every lane's request in
// flight at once.
func (l *lane) borrow(batch []item) (_ []item, from []*lane) {
	o := &l.w.opts
	if len(l.w.lanes) < 2 || len(batch) >= o.BulkActions {
		return batch, nil
	}
	size := int64(0)
	for i := range batch {
		size += batch[i].cost
	}
	at := time.Now()
	for _, k := range l.w.lanes {
		if k == l || len(batch) >= o.BulkActions || size >= int64(o.BulkBytes) {
			continue
		}
		k.mu.Lock()
		if k.writing || k.held || len(k.queue) == 0 || !k.hurry.Load() ||
			size+k.queue[0].cost > int64(o.BulkBytes) {
			k.mu.Unlock()
			continue
		}
		before := len(batch)
		batch = k.takeLocked(batch, at, size)
		for _, it := range batch[before:] {
			size += it.cost
		}
		k.held = true
		k.mu.Unlock()
		from = append(from, k)
	}
	return batch, from
}

// release lets lanes held by borrow take their queues again, and wakes
// those that have something to do: what arrived meanwhile, or a drain
// waiting for the release. A lane with nothing queued sleeps on until
// its next documents wake it: waking it only to find nothing was a wake
// per borrowed lane and request, a good part of a light stream's.
func release(held []*lane) {
	for _, k := range held {
		k.mu.Lock()
		k.held = false
		wake := len(k.queue) > 0 || k.draining
		k.mu.Unlock()
		if wake {
			k.signal()
		}
	}
}

// written marks the lane's own batch answered.
func (l *lane) written() {
	l.mu.Lock()
	l.writing = false
	l.mu.Unlock()
}
