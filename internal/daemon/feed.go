package daemon

import (
	"context"
	"sync"

	"github.com/projector-dev/projector/transform"
)

// feed carries transactions from every source's stream to the engine.
// Closing it is how shutdown stops reading: senders then block until
// their stream ends, so a transaction is either handed to the engine or
// never confirmed (and sent again by the server on the next start).
type feed struct {
	ch       chan *transform.Transaction
	draining chan struct{}
	once     sync.Once
	mu       sync.RWMutex // held for reading while sending, so close never races a send
	closed   bool
}

func newFeed(buffer int) *feed {
	return &feed{ch: make(chan *transform.Transaction, buffer), draining: make(chan struct{})}
}

func (f *feed) out() <-chan *transform.Transaction { return f.ch }

func (f *feed) send(ctx context.Context, txn *transform.Transaction) error {
	f.mu.RLock()
	if f.closed {
		f.mu.RUnlock()
		<-ctx.Done()
		return ctx.Err()
	}
	select {
	case f.ch <- txn:
		f.mu.RUnlock()
		return nil
	case <-f.draining:
		f.mu.RUnlock()
		<-ctx.Done()
		return ctx.Err()
	case <-ctx.Done():
		f.mu.RUnlock()
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
