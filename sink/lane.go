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
}

func newLane(w *Writer) *lane {
	// A new lane counts as busy for its first flush interval, as if it had
	// just taken a batch: the documents submitted at start arrive together.
	return &lane{w: w, wake: make(chan struct{}, 1), taken: time.Now()}
}

// push appends items and wakes the lane.
func (l *lane) push(items []item) {
	l.mu.Lock()
	if len(l.queue) == 0 {
		l.since = time.Now()
	}
	l.queue = append(l.queue, items...)
	for i := range items {
		l.bytes += items[i].cost
	}
	l.mu.Unlock()
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
func (l *lane) take(now bool) ([]item, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 {
		return nil, 0
	}
	o := &l.w.opts
	at := time.Now()
	if !now && !l.hurry.Load() && len(l.queue) < o.BulkActions && l.bytes < int64(o.BulkBytes) {
		due := l.since
		if l.taken.Before(due) {
			due = l.taken
		}
		due = due.Add(o.FlushInterval)
		if wait := due.Sub(at); wait > 0 {
			return nil, wait
		}
	}
	n, size := 0, int64(0)
	for n < len(l.queue) && n < o.BulkActions && (n == 0 || size+l.queue[n].cost <= int64(o.BulkBytes)) {
		size += l.queue[n].cost
		n++
	}
	batch := make([]item, n)
	copy(batch, l.queue)
	clear(l.queue[:n])
	l.queue = l.queue[n:]
	if len(l.queue) == 0 && cap(l.queue) > o.BulkActions {
		// The array a backlog grew is dropped once it drained, or the
		// snapshot's queue would stay reserved for the whole stream.
		l.queue = nil
	}
	l.bytes -= size
	l.taken = at
	if len(l.queue) == 0 {
		l.hurry.Store(false)
	}
	return batch, 0
}
