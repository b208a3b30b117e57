package daemon

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/projector-dev/projector/capture"
)

// feed carries transactions from every source's stream to the engine.
// Closing it is how shutdown stops reading: senders then block until
// their stream ends, so a transaction is either handed to the engine or
// never confirmed (and sent again by the server on the next start).
//
// The feed is bounded by the events it holds, not by transactions: under
// a write load of small transactions the engine must find whole groups
// waiting (each group costs one commit and one pass of the builder),
// while snapshot chunks of thousands of rows must be held few.
type feed struct {
	ch        chan *capture.Transaction
	room      *semaphore.Weighted
	maxEvents int64
	draining  chan struct{}
	once      sync.Once
	mu        sync.RWMutex // held for reading while sending, so close never races a send
	closed    bool
}

// The engine applies up to maxGroupEvents events in one atomic commit;
// the feed holds up to feedTransactions transactions.
const (
	maxGroupEvents   = 10000
	feedTransactions = 4096
)

func newFeed(maxTxns int, maxEvents int64) *feed {
	return &feed{ch: make(chan *capture.Transaction, maxTxns), room: semaphore.NewWeighted(maxEvents),
		maxEvents: maxEvents, draining: make(chan struct{})}
}

func (f *feed) out() <-chan *capture.Transaction { return f.ch }

// weight is what txn counts against the feed's room; a transaction bigger
// than all of it still passes, alone.
func (f *feed) weight(txn *capture.Transaction) int64 {
	return min(max(int64(len(txn.Changes)), 1), f.maxEvents)
}

// taken makes room for the events of a transaction the engine took.
func (f *feed) taken(txn *capture.Transaction) { f.room.Release(f.weight(txn)) }

func (f *feed) send(ctx context.Context, txn *capture.Transaction) error {
	w := f.weight(txn)
	if err := f.room.Acquire(ctx, w); err != nil {
		return err
	}
	f.mu.RLock()
	if f.closed {
		f.mu.RUnlock()
		f.room.Release(w)
		<-ctx.Done()
		return ctx.Err()
	}
	select {
	case f.ch <- txn:
		f.mu.RUnlock()
		return nil
	case <-f.draining:
		f.mu.RUnlock()
		f.room.Release(w)
		<-ctx.Done()
		return ctx.Err()
	case <-ctx.Done():
		f.mu.RUnlock()
		f.room.Release(w)
		return ctx.Err()
	}
}

// close stops accepting transactions; the engine applies what the channel
// holds and then sees it closed.
func (f *feed) close() {
	f.once.Do(func() {
		close(f.draining)
		f.mu.Lock()
		f.closed = true
		close(f.ch)
		f.mu.Unlock()
	})
}
