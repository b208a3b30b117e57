package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/budget"
)

// feed carries transactions from every source's stream to the engine.
// Closing it is how shutdown stops reading: senders then block until
// their stream ends, so a transaction is either handed to the engine or
// never confirmed (and sent again by the server on the next start).
//
// The feed is bounded by the bytes it holds (the feed's share of the
// memory budget, charged with each transaction's weight until the engine
// has applied it), not by transactions: under a write load of small
// transactions the engine must find whole groups waiting (each group
// costs one commit and one pass of the builder), while snapshot chunks of
// thousands of rows must be held few.
type feed struct {
	ch       chan *capture.Transaction
	room     *budget.Budget
	draining chan struct{}
	once     sync.Once
	mu       sync.RWMutex // held for reading while sending, so close never races a send
	closed   bool
}

// The engine applies up to maxGroupEvents events in one atomic commit;
// the feed holds up to feedTransactions transactions.
const (
	maxGroupEvents   = 10000
	feedTransactions = 4096
)

// groupLinger is the longest a steady stream's group waits for the
// transactions about to arrive (transform.Options.GroupLinger): four of
// the stream's gaps, at least half of it. At 50 single-row transactions a
// second that groups them four or five at a time, about ten groups (bulk
// requests, state commits, confirmations) a second, as many as a
// replicator batching every 100 ms sends; at 500, some twenty. The group
// is then sent at once rather than after the sink's flush interval too,
// so a change waits at most this long in projector for company. Streams
// slower than one transaction per 40 ms do not linger.
const groupLinger = 80 * time.Millisecond

func newFeed(maxTxns int, room *budget.Budget) *feed {
	return &feed{ch: make(chan *capture.Transaction, maxTxns), room: room, draining: make(chan struct{})}
}

func (f *feed) out() <-chan *capture.Transaction { return f.ch }

// applied makes room for a transaction the engine has applied: its charge
// is the one send acquired for the same weight. Releasing it only then,
// not when the engine takes it, makes the feed's share bound the decoded
// rows of the group being applied as well as those waiting for the next.
func (f *feed) applied(txn *capture.Transaction) { f.room.Release(f.room.Charge(txn.Bytes)) }

func (f *feed) send(ctx context.Context, txn *capture.Transaction) error {
	w, err := f.room.Acquire(ctx, txn.Bytes)
	if err != nil {
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

// trySend is send when it need not wait: it hands txn over and reports
// true only if the budget and the channel both have room at once.
func (f *feed) trySend(txn *capture.Transaction) bool {
	w, ok := f.room.TryAcquire(txn.Bytes)
	if !ok {
		return false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	select {
	case <-f.draining:
	default:
		select {
		case f.ch <- txn:
			return true
		default:
		}
	}
	f.room.Release(w)
	return false
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
