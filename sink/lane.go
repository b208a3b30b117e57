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
	wake  chan struct{}
	enc   encoder
	// hurry, set by Writer.Hurry, sends the queue without waiting for a
	// full batch or the flush interval, until the lane has emptied it.
	hurry atomic.Bool
}

func newLane(w *Writer) *lane {
	return &lane{w: w, wake: make(chan struct{}, 1)}
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
func (l *lane) take(now bool) ([]item, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 {
		return nil, 0
	}
	o := &l.w.opts
	age := time.Since(l.since)
	if !now && !l.hurry.Load() && len(l.queue) < o.BulkActions && l.bytes < int64(o.BulkBytes) && age < o.FlushInterval {
		return nil, o.FlushInterval - age
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
	l.bytes -= size
	if len(l.queue) == 0 {
		l.hurry.Store(false)
	}
	return batch, 0
}
