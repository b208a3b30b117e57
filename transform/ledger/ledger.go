// Package ledger is projector's position ledger: the one place that knows,
// per source, which position is applied to the state and which is durable
// in the index, and the only code that confirms a position to a source's
// replication stream.
//
// The way back from the index to PostgreSQL has one ordering mechanism:
// every group of transactions the engine applies gets a [Ticket], in
// order, whether or not it produced documents. A ticket is acknowledged
// once its documents are durable (at once when it has none), in any order;
// the ledger settles tickets strictly in ticket order, and only a settled
// ticket's positions are confirmed. A group without documents therefore
// never confirms past an earlier group the index has not acknowledged.
//
// Confirmed positions never move backwards: a position at or below what a
// source already has durable is recorded and not confirmed again.
//
// The ledger does no I/O; it is safe for concurrent use, though tickets
// are meant to be issued, settled and reset by one goroutine (the
// engine's) and acknowledged by another (the sink's).
package ledger

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/projector-dev/projector/capture"
)

// Ticket numbers an applied group; the first is 1, and 0 means none.
type Ticket uint64

// ConfirmFunc tells one source that everything up to lsn is durable end to
// end, so its replication slot may release the WAL before it.
type ConfirmFunc func(source string, lsn capture.LSN)

// Stream is what the ledger needs of a replication stream: capture's
// Stream satisfies it. Nothing but the ledger calls it.
type Stream interface {
	Confirm(lsn capture.LSN)
}

// Streams routes confirmations to each source's stream; positions of a
// source without a stream (one that failed to start) are not confirmed.
type Streams map[string]Stream

// Confirm confirms lsn to source's stream, if it has one.
func (s Streams) Confirm(source string, lsn capture.LSN) {
	if st := s[source]; st != nil {
		st.Confirm(lsn)
	}
}

// Entry is an issued ticket: the positions it makes durable once it
// settles, and what the issuer noted to finish it.
type Entry[T any] struct {
	Ticket Ticket
	// Positions are, per source, the position this group applied.
	Positions map[string]capture.LSN
	// Note is what the issuer keeps with the ticket (the documents to
	// clear once they are durable).
	Note T
	// Acknowledged is when the index acknowledged the ticket.
	Acknowledged time.Time
	acked        bool
}

// Position is what the ledger knows of one source.
type Position struct {
	// Applied is the highest position issued since the source was last
	// reset: applied to the state, maybe not durable yet.
	Applied capture.LSN
	// Durable is the highest position settled: applied and durable in the
	// index. It never moves backwards.
	Durable capture.LSN
	// Acknowledged is the highest position of a group whose documents the
	// index acknowledged, as it did every earlier group's: at or past
	// Durable, since a group settles only after that, and searchable after
	// a refresh. A reader waiting for its write needs no more; the slot
	// needs the settle (the state synced) before it is confirmed. It never
	// moves backwards.
	Acknowledged capture.LSN
}

// Ledger orders the way back. T is what the issuer notes with a ticket.
type Ledger[T any] struct {
	confirm ConfirmFunc

	mu      sync.Mutex
	issued  Ticket
	open    map[Ticket]*Entry[T] // issued, not settled
	sources map[string]*Position
	settled atomic.Uint64
	// acked is the last ticket acknowledged with every one before it,
	// readable without the lock.
	acked atomic.Uint64
	wake  chan struct{}
	// settling, while someone waits for a position (Settling), is closed
	// by the next settle or acknowledgement in ticket order; nil when
	// nobody waits, so that settling costs nothing more than a nil check
	// then.
	settling chan struct{}
}

// New returns an empty ledger that confirms settled positions through
// confirm.
func New[T any](confirm ConfirmFunc) *Ledger[T] {
	return &Ledger[T]{confirm: confirm, open: map[Ticket]*Entry[T]{}, sources: map[string]*Position{},
		wake: make(chan struct{}, 1)}
}

// NextTicket is the ticket the next Issue returns, for an issuer that
// must write it down (with its pending marks) before the group is
// committed.
func (l *Ledger[T]) NextTicket() Ticket {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.issued + 1
}

// Issue records a group as applied to the state, with the positions it
// applied per source (none for a group that only carries documents), and
// returns its ticket.
func (l *Ledger[T]) Issue(positions map[string]capture.LSN, note T) Ticket {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.issued++
	for source, lsn := range positions {
		p := l.source(source)
		p.Applied = max(p.Applied, lsn)
	}
	l.open[l.issued] = &Entry[T]{Ticket: l.issued, Positions: positions, Note: note}
	return l.issued
}

// Acknowledge records that every document of ticket t is durable in the
// index, as of at. Tickets may be acknowledged in any order and from any
// goroutine; acknowledging a settled or unknown ticket does nothing.
func (l *Ledger[T]) Acknowledge(t Ticket, at time.Time) {
	l.mu.Lock()
	e := l.open[t]
	if e != nil && !e.acked {
		e.acked, e.Acknowledged = true, at
		l.advanceAcked()
	}
	l.mu.Unlock()
	if e != nil {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// advanceAcked moves the acknowledged prefix over the tickets now
// acknowledged in order, and wakes who waits for a position if it moved;
// l.mu is held. Each ticket is passed over once.
func (l *Ledger[T]) advanceAcked() {
	moved := false
	for {
		next := Ticket(max(l.acked.Load(), l.settled.Load()) + 1)
		e := l.open[next]
		if e == nil || !e.acked {
			break
		}
		for source, lsn := range e.Positions {
			p := l.source(source)
			p.Acknowledged = max(p.Acknowledged, lsn)
		}
		l.acked.Store(uint64(next))
		moved = true
	}
	if moved && l.settling != nil {
		close(l.settling)
		l.settling = nil
	}
}

// Wake receives after an acknowledgement: Next may then have an entry.
func (l *Ledger[T]) Wake() <-chan struct{} { return l.wake }

// Next returns the oldest unsettled ticket if it is acknowledged. The
// caller finishes it (clears its pending marks, syncs the state) and then
// settles it; until then Next keeps returning it.
func (l *Ledger[T]) Next() (Entry[T], bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.open[Ticket(l.settled.Load())+1]
	if e == nil || !e.acked {
		return Entry[T]{}, false
	}
	return *e, true
}

// Settle makes ticket t's positions durable and confirms each to its
// source, in the order of their names, unless the source already has as much. t must be
// the ticket Next returned; any other is refused with false.
func (l *Ledger[T]) Settle(t Ticket) bool {
	l.mu.Lock()
	e := l.open[t]
	if e == nil || !e.acked || uint64(t) != l.settled.Load()+1 {
		l.mu.Unlock()
		return false
	}
	delete(l.open, t)
	var confirm []sourceLSN
	for source, lsn := range e.Positions {
		p := l.source(source)
		if lsn <= p.Durable {
			continue
		}
		p.Durable = lsn
		p.Acknowledged = max(p.Acknowledged, lsn)
		confirm = append(confirm, sourceLSN{source, lsn})
	}
	l.settled.Store(uint64(t))
	if l.acked.Load() < uint64(t) {
		l.acked.Store(uint64(t))
	}
	if l.settling != nil {
		close(l.settling)
		l.settling = nil
	}
	l.mu.Unlock()
	slices.SortFunc(confirm, func(a, b sourceLSN) int { return strings.Compare(a.source, b.source) })
	// Outside the lock: a stream may take its own locks to confirm.
	for _, c := range confirm {
		if l.confirm != nil {
			l.confirm(c.source, c.lsn)
		}
	}
	return true
}

type sourceLSN struct {
	source string
	lsn    capture.LSN
}

// Issued is the last ticket issued.
func (l *Ledger[T]) Issued() Ticket {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.issued
}

// Settled is the last ticket settled; every ticket before it is settled
// too. Safe to call from any goroutine without waiting.
func (l *Ledger[T]) Settled() Ticket { return Ticket(l.settled.Load()) }

// Acknowledged is the last ticket whose documents, and every earlier
// ticket's, the index acknowledged; at or past Settled. Safe to call from
// any goroutine without waiting.
func (l *Ledger[T]) Acknowledged() Ticket { return Ticket(l.acked.Load()) }

// Reset forgets what is applied of source: its state was removed to be
// copied again. What is durable stays, so that nothing below it is ever
// confirmed again.
func (l *Ledger[T]) Reset(source string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.source(source).Applied = 0
}

// Position returns what the ledger knows of source.
func (l *Ledger[T]) Position(source string) Position {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.sources[source]; p != nil {
		return *p
	}
	return Position{}
}

// Settling returns a channel closed by the next settle, or the next
// acknowledgement that completes the tickets before it, for a reader
// waiting until a source's durable or acknowledged position reaches a
// point: read Position after taking the channel, and again once it is
// closed.
func (l *Ledger[T]) Settling() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.settling == nil {
		l.settling = make(chan struct{})
	}
	return l.settling
}

// source returns source's position, creating it; l.mu is held.
func (l *Ledger[T]) source(name string) *Position {
	p := l.sources[name]
	if p == nil {
		p = &Position{}
		l.sources[name] = p
	}
	return p
}
