package capture

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/projector-dev/projector/internal/budget"
)

// Checkpoint is the position downstream has durably applied for a source:
// the stream resumes from it after a restart.
type Checkpoint struct {
	// SnapshotDone is true once the initial snapshot was applied completely.
	// Without it the stream starts over with a new slot and a new snapshot.
	SnapshotDone bool
	// Applied is the EndLSN of the last transaction applied downstream.
	Applied LSN
}

// DeliverFunc receives each transaction in commit order. It may block to
// slow the stream down; an error stops the stream. It must not keep
// references into a transaction it has not finished with once it returns
// an error.
type DeliverFunc func(ctx context.Context, txn *Transaction) error

// TryDeliverFunc hands a transaction downstream only if it can without
// waiting, and says whether it did. It is called from the goroutine that
// reads the replication connection, which must never block on
// downstream.
type TryDeliverFunc func(txn *Transaction) bool

// Stream captures one source. Run delivers its transactions in commit
// order; Confirm reports what is durable downstream, and only that is ever
// confirmed to the server, so WAL for undelivered or unapplied changes is
// kept.
type Stream struct {
	src     Source
	opts    Options
	log     *slog.Logger
	metrics *Metrics

	// confirmed is the highest EndLSN durable downstream; it only grows.
	confirmed atomic.Uint64
	// passed is the highest server WAL position the stream passed while
	// everything decoded before it was confirmed (see Passed); quiet is
	// the last keepalive's position heard between transactions, with what
	// was decoded before it, which Passed counts once that is confirmed.
	passed  atomic.Uint64
	quietMu sync.Mutex
	quiet   struct{ walEnd, owed LSN }
	// connected is true while a replication connection is streaming.
	connected atomic.Bool
	// lastMessage is when the replication stream last heard from the
	// server, in Unix nanoseconds; 0 before the first message.
	lastMessage atomic.Int64
	// pending holds the commit times of delivered, unconfirmed transactions,
	// oldest first, for the lag-in-seconds metric.
	pendingMu sync.Mutex
	pending   []pendingTxn
	// budget bounds the bytes of transactions capture made and has not
	// yet delivered downstream: snapshot chunks copied, and streamed
	// transactions queued for Run's delivering goroutine while downstream
	// is full. A buffer counted in transactions would hold far too many
	// of either: a chunk holds thousands of rows, and Options.Buffer
	// transactions of 1,000 rows written at full speed held tens of
	// megabytes of decoded rows that no budget counted.
	budget *budget.Budget
	// chunks copies tables in chunks while the stream runs.
	chunks *chunker
	// recycle keeps the rows of snapshot chunks downstream applied, for
	// the chunks a snapshot copies after them.
	recycle *chunkRecycler
	// protoVersion pins the pgoutput protocol version, for tests that run
	// every version the server offers; 0 picks the highest (protocolFor).
	protoVersion int
	// spill makes the buffers of transactions in progress, while Run runs.
	spill *spiller
	// queued counts the transactions handed to Run's delivering goroutine
	// and not yet delivered by it. Only the capture goroutine adds to it:
	// when it reads 0, nothing is ahead of the next transaction, which may
	// then be delivered directly (see session.push) without breaking the
	// commit order.
	queued atomic.Int64
	// tryDeliver, while Run runs, is RunWith's non-blocking delivery.
	tryDeliver TryDeliverFunc
}

type pendingTxn struct {
	end        LSN
	commitTime time.Time
}

// NewStream prepares a stream for src; nothing connects before Run.
func NewStream(src Source, opts Options, metrics *Metrics, log *slog.Logger) *Stream {
	opts = opts.withDefaults()
	metrics.declareSource(src.Name)
	s := &Stream{src: src, opts: opts, metrics: metrics, log: log.With("source", src.Name),
		budget:  budget.New(opts.SnapshotBudget),
		recycle: newChunkRecycler()}
	s.chunks = newChunker(s)
	return s
}

// delivered releases what txn held of the capture budget: it has left
// capture, or never will.
func (s *Stream) delivered(txn *Transaction) {
	s.budget.Release(txn.charge)
	txn.charge = 0
}

// Confirm marks every transaction with EndLSN <= lsn as durable downstream.
// Calls may come from any goroutine; a lower LSN than before is ignored, so
// the confirmed position never moves backwards. In projector only the
// position ledger (transform/ledger) calls it, through ledger.Streams.
func (s *Stream) Confirm(lsn LSN) {
	for {
		cur := s.confirmed.Load()
		if uint64(lsn) <= cur {
			return
		}
		if s.confirmed.CompareAndSwap(cur, uint64(lsn)) {
			break
		}
	}
	s.pendingMu.Lock()
	i := 0
	for i < len(s.pending) && s.pending[i].end <= lsn {
		i++
	}
	s.pending = s.pending[i:]
	s.pendingMu.Unlock()
}

// Passed is the highest server WAL position the stream reached, as a
// keepalive reported it, while nothing decoded before it was still owed
// downstream: every change of the source's publication up to it is
// confirmed, even when the WAL since the last transaction held nothing
// for it (other databases, other tables). 0 until a quiet stream heard a
// keepalive.
func (s *Stream) Passed() LSN {
	passed := LSN(s.passed.Load())
	s.quietMu.Lock()
	defer s.quietMu.Unlock()
	if s.Confirmed() >= s.quiet.owed {
		passed = max(passed, s.quiet.walEnd)
	}
	return passed
}

// heardQuiet records a keepalive's position heard between transactions,
// after everything up to owed was decoded: once owed is confirmed, the
// stream passed walEnd with nothing more owed (Passed). Keepalives are
// rare next to changes, so the lock costs the stream nothing measurable.
func (s *Stream) heardQuiet(walEnd, owed LSN) {
	s.quietMu.Lock()
	defer s.quietMu.Unlock()
	if walEnd > s.quiet.walEnd {
		s.quiet.walEnd, s.quiet.owed = walEnd, owed
	}
}

// pass records that the stream passed lsn with nothing owed downstream.
func (s *Stream) pass(lsn LSN) {
	for {
		cur := s.passed.Load()
		if uint64(lsn) <= cur || s.passed.CompareAndSwap(cur, uint64(lsn)) {
			return
		}
	}
}

// Connected reports whether the stream is connected and streaming changes
// (not snapshotting, not waiting to reconnect).
func (s *Stream) Connected() bool { return s.connected.Load() }

// Source returns the source the stream captures.
func (s *Stream) Source() Source { return s.src }

// Confirmed returns the highest LSN confirmed by downstream.
func (s *Stream) Confirmed() LSN { return LSN(s.confirmed.Load()) }

// LastMessage is when the replication stream last heard from the server
// (a change or a keepalive), and the zero time before it ever did.
func (s *Stream) LastMessage() time.Time {
	ns := s.lastMessage.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// heard notes that a message came from the server at now.
func (s *Stream) heard(now time.Time) { s.lastMessage.Store(now.UnixNano()) }

// LagSeconds is the age of the oldest committed transaction not yet durable
// downstream, and 0 when everything delivered is confirmed. While the
// stream is not connected after it once was, whatever was committed since
// it last heard from the server is unknown and may be waiting: the lag is
// then at least the time since that last message, so it keeps growing
// while the server cannot be reached instead of standing still.
func (s *Stream) LagSeconds(now time.Time) float64 {
	lag := 0.0
	if last := s.LastMessage(); !last.IsZero() && !s.Connected() {
		lag = max(now.Sub(last).Seconds(), 0)
	}
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	if len(s.pending) == 0 {
		return lag
	}
	return max(lag, now.Sub(s.pending[0].commitTime).Seconds())
}

func (s *Stream) track(txn *Transaction) {
	s.pendingMu.Lock()
	s.pending = append(s.pending, pendingTxn{end: txn.EndLSN, commitTime: txn.CommitTime})
	s.pendingMu.Unlock()
}

// Run captures until ctx ends or a fatal error occurs. Connection losses
// and server restarts are retried with capped exponential backoff,
// resuming from the confirmed position; transactions the server sends
// again are recognised by LSN and not delivered twice.
func (s *Stream) Run(ctx context.Context, from Checkpoint, deliver DeliverFunc) error {
	return s.RunWith(ctx, from, deliver, nil)
}

// RunWith is Run with a second way downstream: while nothing waits to be
// delivered, the goroutine that decodes a transaction hands it over itself
// through try, rather than waking the delivering goroutine to call
// deliver; that wake was one of the few a light stream pays for each
// change. A transaction try refuses goes through deliver, in order.
func (s *Stream) RunWith(ctx context.Context, from Checkpoint, deliver DeliverFunc, try TryDeliverFunc) error {
	s.tryDeliver = try
	s.queued.Store(0) // what an earlier run left queued was dropped with it
	closeSpill, err := s.openSpill()
	if err != nil {
		return err
	}
	defer closeSpill()
	g, ctx := errgroup.WithContext(ctx)
	txns := make(chan *Transaction, s.opts.Buffer)
	g.Go(func() error {
		defer close(txns)
		return s.captureLoop(ctx, from, txns)
	})
	g.Go(func() error { return s.chunks.loop(ctx) })
	g.Go(func() error {
		for txn := range txns {
			err := deliver(ctx, txn)
			s.delivered(txn)
			s.queued.Add(-1)
			if err != nil {
				return fmt.Errorf("source %q: deliver transaction %d at %s: %w", s.src.Name, txn.XID, txn.EndLSN, err)
			}
		}
		return nil
	})
	err = g.Wait()
	// What is still queued is dropped with this run (the server sends it
	// again), and so is its charge, so that a later run has the whole
	// budget.
	for txn := range txns {
		s.delivered(txn)
	}
	return err
}

func (s *Stream) captureLoop(ctx context.Context, from Checkpoint, out chan<- *Transaction) error {
	sess := &session{stream: s, out: out, delivered: from.Applied, applied: from.Applied, snapshotDone: from.SnapshotDone}
	retry := Retrier{MaxBackoff: s.opts.MaxBackoff}
	for {
		started := time.Now()
		err := sess.run(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(started) > time.Minute {
			retry.Reset() // it worked for a while: count failures afresh
		}
		wait, stop := retry.Next(err)
		if stop != nil {
			return fmt.Errorf("source %q: %w", s.src.Name, stop)
		}
		s.metrics.errors.Inc()
		s.log.Warn("replication interrupted; reconnecting", "error", err, "class", Classify(err).String(), "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// connect opens an ordinary connection to the source.
func (s *Stream) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(s.src.DSN)
	if err != nil {
		return nil, fmt.Errorf("source %q: the DSN cannot be parsed; check its syntax (postgres://user@host:port/db)", s.src.Name)
	}
	setSessionFormats(cfg.RuntimeParams)
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = s.opts.ReceiveTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to source %q: %w", s.src.Name, err)
	}
	return conn, nil
}

// setSessionFormats pins the text formats values are decoded from, whatever
// the server's or role's defaults: ISO dates, PostgreSQL intervals, floats
// with every digit, times in UTC.
func setSessionFormats(params map[string]string) {
	params["DateStyle"] = "ISO"
	params["IntervalStyle"] = "postgres"
	params["extra_float_digits"] = "3"
	params["TimeZone"] = "UTC"
}

// SlotMarks durably records the highest position confirmed to a source's
// replication slot. A slot is dropped and created again under the same
// name by a failover, a restore or a script; the new slot starts at the
// server's current position, ahead of anything projector confirmed, which
// is how it is told apart from the slot the state follows.
type SlotMarks interface {
	// SlotMark returns the recorded position, and false when none is.
	SlotMark() (LSN, bool, error)
	// SetSlotMark records lsn; it is durable when it returns.
	SetSlotMark(lsn LSN) error
}
