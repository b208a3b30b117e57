package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// session is one connection's worth of capture. It survives reconnects as
// a value so that what was already delivered is remembered.
type session struct {
	stream       *Stream
	out          chan<- *Transaction
	delivered    LSN  // EndLSN of the last transaction handed downstream
	snapshotDone bool // the snapshot was delivered in this process or before

	// floor is a position the server already holds for the slot, or one
	// that idle progress proved safe; the status update never reports less.
	floor LSN
	// decodedEnd is the EndLSN of the last transaction decoded, and inTxn
	// says a transaction has begun but not committed: both decide whether
	// an idle keepalive position can be confirmed.
	decodedEnd LSN
	inTxn      bool
	// wire counts the bytes of the messages decoded since the last
	// transaction was complete: the basis of the next one's weight. The
	// messages of large transactions streamed in progress interleave;
	// their bytes go to whichever completes next, which keeps the total.
	wire int64
	// serverWALEnd is the highest WAL end a keepalive reported: once
	// downstream confirms what was decoded before it, the slot may follow
	// it without waiting for the next keepalive, which can be half a
	// wal_sender_timeout away (and a shutting-down server waits for it).
	serverWALEnd LSN
	lastStatus   LSN
	nextStatus   time.Time
	// statusSent is when the last status update went out: a position that
	// moved is reported at most every statusGap (see maybeSendStatus).
	statusSent time.Time
	// applied is the state's applied position when the stream started;
	// recorded is the highest position known durable in the slot marks
	// (see SlotMarks), and lastRecord when it was last written.
	applied    LSN
	recorded   LSN
	lastRecord time.Time
}

func (ss *session) run(ctx context.Context) error {
	s := ss.stream
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	if err := prerequisitesError(s.src, CheckPrerequisites(ctx, conn, s.src)); err != nil {
		return err
	}
	if err := ensurePublication(ctx, conn, s.src, s.log); err != nil {
		return err
	}
	proto, err := s.streamProtocol(ctx, conn)
	if err != nil {
		return err
	}
	slot, err := ss.prepareSlot(ctx, conn)
	if err != nil {
		return err
	}

	repl, err := s.replicationConn(ctx)
	if err != nil {
		return err
	}
	defer repl.Close(context.Background())
	if err := ensureFailoverSlot(ctx, conn, repl, s.src.SlotName(), s.opts.FailoverSlot, s.log); err != nil {
		return err
	}

	start := slot.ConfirmedLSN
	if !ss.snapshotDone {
		if start, err = ss.bootstrap(ctx, repl); err != nil {
			return err
		}
	}
	ss.floor = max(start, s.Confirmed())
	ss.decodedEnd, ss.inTxn, ss.lastStatus, ss.serverWALEnd = ss.delivered, false, 0, 0

	err = pglogrepl.StartReplication(ctx, repl, s.src.SlotName(), pglogrepl.LSN(start),
		pglogrepl.StartReplicationOptions{PluginArgs: proto.pluginArgs(s.src.PublicationName())})
	if err != nil {
		return classifyStartError(s.src.SlotName(), err)
	}
	s.log.Info("streaming", "slot", s.src.SlotName(), "from", start, "proto_version", proto.Version)
	// The server's answer to START_REPLICATION is a message too: a
	// connection that falls silent before the first keepalive must still
	// show a lag and a last-message age that grow from here.
	s.heard(time.Now())
	s.connected.Store(true)
	defer s.connected.Store(false)
	defer ss.finalStatus(repl)
	ss.wire = 0 // a new connection sends any transaction in progress again
	dec := proto.newDecoder(s.src.Name, NewCatalogTypes(conn))
	if s.spill != nil {
		dec.spillTo(s.spill)
	}
	defer func() {
		if err := dec.close(); err != nil {
			s.log.Warn("spilled transactions not discarded", "error", err)
		}
	}()
	return ss.receive(ctx, repl, dec)
}

// finalStatus reports the durable position one last time as the session
// ends, so that what downstream confirmed while projector was shutting down
// is not sent again on the next start. It is best effort: the position is
// reported again on the next connection anyway.
func (ss *session) finalStatus(conn *pgconn.PgConn) {
	// A connection that failed is being closed by pgconn in a goroutine of
	// its own, which writes to the connection: writing to it too would
	// race, and could not arrive anyway.
	if conn.IsClosed() || ss.position() <= ss.lastStatus {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ss.maybeSendStatus(ctx, conn, true); err != nil {
		ss.stream.log.Debug("final standby status update not sent", "error", err)
		return
	}
	ss.stream.log.Info("confirmed final position", "lsn", ss.lastStatus)
}

// prepareSlot decides between resuming the existing slot and starting over
// with a new one. A slot that disappeared or was invalidated after the
// snapshot means changes were lost: that is never papered over.
func (ss *session) prepareSlot(ctx context.Context, conn *pgx.Conn) (slotState, error) {
	name := ss.stream.src.SlotName()
	slot, err := readSlot(ctx, conn, name)
	if err != nil {
		return slot, err
	}
	if !slot.Exists {
		if err := slotElsewhere(ctx, conn, ss.stream.src); err != nil {
			return slot, err
		}
	}
	if !ss.snapshotDone {
		if slot.Exists {
			ss.stream.log.Info("dropping slot of an unfinished snapshot", "slot", name)
			if err := dropSlot(ctx, conn, name); err != nil {
				return slot, err
			}
		}
		return slotState{}, nil
	}
	if slot.Exists && slot.WALStatus != "lost" {
		if err := ss.checkIdentity(slot); err != nil {
			return slot, err
		}
	}
	switch {
	case !slot.Exists:
		return slot, permanent(fmt.Errorf("%w: slot %q no longer exists, so changes since the last confirmed position are gone; "+
			"restart projector with the source re-bootstrapped (capture.on_slot_lost: rebootstrap) to take a new snapshot", ErrSlotLost, name))
	case slot.WALStatus == "lost":
		return slot, permanent(fmt.Errorf("%w: the server invalidated slot %q (wal_status = lost, e.g. past max_slot_wal_keep_size); "+
			"re-bootstrap the source (capture.on_slot_lost: rebootstrap) to take a new snapshot", ErrSlotLost, name))
	case slot.Plugin != "pgoutput":
		return slot, permanent(fmt.Errorf("slot %q uses plugin %q, not pgoutput: drop it (projector slots drop) or configure another slot name", name, slot.Plugin))
	}
	return slot, nil
}

// checkIdentity fails with ErrSlotLost when the slot is ahead of every
// position projector ever confirmed to it: it is not the slot the state
// follows but one created again under the same name, and the changes
// between the two are gone.
func (ss *session) checkIdentity(slot slotState) error {
	marks := ss.stream.opts.Marks
	if marks == nil {
		return nil
	}
	name := ss.stream.src.SlotName()
	mark, ok, err := marks.SlotMark()
	if err != nil {
		return permanent(fmt.Errorf("read the recorded position of slot %q: %w", name, err))
	}
	if !ok {
		// State from a version that kept no marks: the slot is trusted
		// once, and checked from now on.
		ss.stream.log.Info("recording the slot's position to recognise the slot from now on", "slot", name, "lsn", slot.ConfirmedLSN)
		if err := ss.record(slot.ConfirmedLSN); err != nil {
			return err
		}
		return nil
	}
	known := max(mark, ss.applied, ss.stream.Confirmed(), ss.recorded)
	if slot.ConfirmedLSN > known {
		return permanent(fmt.Errorf("%w: slot %q is not the slot projector's state follows: its confirmed position %s is ahead of "+
			"the last position projector confirmed (%s), so it was dropped and created again (a failover, a restore or a script) "+
			"and the changes in between are gone; re-bootstrap the source (capture.on_slot_lost: rebootstrap) to take a new snapshot",
			ErrSlotLost, name, slot.ConfirmedLSN, known))
	}
	ss.recorded = known
	return nil
}

// record durably marks lsn as confirmed to the slot before the server
// hears of it. A state that cannot be written is not fixed by
// reconnecting.
func (ss *session) record(lsn LSN) error {
	if err := ss.stream.opts.Marks.SetSlotMark(lsn); err != nil {
		return permanent(err)
	}
	ss.recorded, ss.lastRecord = lsn, time.Now()
	return nil
}

// reportable is the position the next status update may report: the
// session's position, unless it is ahead of both what downstream applied
// and the recorded mark, in which case the mark moves first, at most once
// a second unless forced (idle progress, which is all this concerns, can
// wait that long).
func (ss *session) reportable(force bool) (LSN, error) {
	pos := ss.position()
	if ss.stream.opts.Marks == nil {
		return pos, nil
	}
	known := max(ss.recorded, ss.stream.Confirmed())
	if pos <= known {
		return pos, nil
	}
	if !force && time.Since(ss.lastRecord) < time.Second {
		return known, nil
	}
	if err := ss.record(pos); err != nil {
		return 0, err
	}
	return pos, nil
}

func (s *Stream) replicationConn(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(s.src.DSN)
	if err != nil {
		return nil, permanent(fmt.Errorf("source %q: the DSN cannot be parsed; check its syntax", s.src.Name))
	}
	cfg.RuntimeParams["replication"] = "database"
	// How dropSlot tells projector's own walsenders from other consumers.
	cfg.RuntimeParams["application_name"] = walsenderApplication
	setSessionFormats(cfg.RuntimeParams)
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = s.opts.ReceiveTimeout
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open replication connection to source %q: %w", s.src.Name, err)
	}
	return conn, nil
}

// receive reads the replication protocol until an error. Every wait is
// bounded so that status updates go out well within wal_sender_timeout,
// even while downstream applies backpressure, and so that a server that
// went silent is given up after the receive timeout (see silence).
//
// Waits are bounded by the socket's read deadline rather than by a context
// with a deadline: a context per message cost a timer and a cancellation
// watch for every message, a fifth of the capture stage's CPU time while
// draining a backlog. Ending ctx expires the deadline at once.
func (ss *session) receive(ctx context.Context, conn *pgconn.PgConn, dec *Decoder) error {
	wait := readDeadline{conn: conn.Conn()}
	stop := context.AfterFunc(ctx, wait.interrupt)
	defer stop()
	// now is read once per message: the clock is read millions of times
	// while draining a backlog, and a few microseconds' staleness changes
	// no decision here.
	now := time.Now()
	quiet := silence{timeout: ss.stream.opts.ReceiveTimeout, since: now}
	for {
		if err := ss.statusAt(ctx, conn, now, false); err != nil {
			return err
		}
		if err := wait.until(now, ss.nextWake(now)); err != nil {
			return err
		}
		// Checked after the deadline is set, so that an interrupt that
		// came just before is not overwritten unnoticed.
		if err := ctx.Err(); err != nil {
			return err
		}
		msg, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			if pgconn.Timeout(err) && ctx.Err() == nil {
				now = time.Now()
				if err := ss.checkSilence(ctx, conn, &quiet, now); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("receive replication message: %w", err)
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if err := ss.handleCopyData(ctx, conn, dec, msg.Data); err != nil {
				return err
			}
			// Noted once the message is handled, so that time spent
			// waiting for downstream is not taken for the server's silence.
			now = time.Now()
			quiet.heard(now)
			ss.stream.heard(now)
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyDone:
			return errors.New("replication stream ended by the server")
		default:
			now = time.Now()
		}
	}
}

// silence tracks how long the server has said nothing, as a standby's
// wal_receiver_timeout does. A healthy walsender answers a status update
// that requests a reply at once, so a server silent for the whole timeout,
// though asked halfway, is taken as unreachable: a network that drops
// packets without a reset leaves the connection open and every read just
// waits.
type silence struct {
	timeout time.Duration
	since   time.Time // the last message, or the start of streaming
	asked   bool      // a reply was requested since
}

func (q *silence) heard(now time.Time) { q.since, q.asked = now, false }

// checkSilence asks the server for a reply once the stream has been quiet
// for half the receive timeout, and gives the connection up after all of it.
func (ss *session) checkSilence(ctx context.Context, conn *pgconn.PgConn, q *silence, now time.Time) error {
	quiet := now.Sub(q.since)
	switch {
	case quiet >= q.timeout:
		return fmt.Errorf("%w: no message from the server in %s (capture.receive_timeout), though a reply was requested: "+
			"giving up the connection as unreachable", errServerSilent, quiet.Round(time.Second))
	case quiet >= q.timeout/2 && !q.asked:
		q.asked = true
		pos, err := ss.reportable(true)
		if err != nil {
			return err
		}
		return ss.sendStatus(ctx, conn, now, pos, true)
	}
	return nil
}

// readDeadline bounds the wait for the next message.
type readDeadline struct {
	conn net.Conn
	at   time.Time
}

// until makes reads time out no later than wake; now is the current time.
// The deadline only moves when wake is earlier or the deadline passed:
// waking a little early is harmless, and most messages are already
// buffered.
func (d *readDeadline) until(now, wake time.Time) error {
	if !d.at.IsZero() && !wake.Before(d.at) && now.Before(d.at) {
		return nil
	}
	if err := d.conn.SetReadDeadline(wake); err != nil {
		return fmt.Errorf("set replication read deadline: %w", err)
	}
	d.at = wake
	return nil
}

// interrupt makes a waiting read return now.
func (d *readDeadline) interrupt() { _ = d.conn.SetReadDeadline(time.Now()) }

func (ss *session) handleCopyData(ctx context.Context, conn *pgconn.PgConn, dec *Decoder, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return permanent(fmt.Errorf("parse keepalive: %w", err))
		}
		ss.serverWALEnd = max(ss.serverWALEnd, LSN(ka.ServerWALEnd))
		if !ss.inTxn {
			ss.stream.heardQuiet(ss.serverWALEnd, ss.decodedEnd)
		}
		ss.idleProgress(ss.serverWALEnd)
		return ss.maybeSendStatus(ctx, conn, ka.ReplyRequested)
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return permanent(fmt.Errorf("parse XLogData: %w", err))
		}
		return ss.handleWAL(ctx, conn, dec, xld)
	}
	return nil
}

func (ss *session) handleWAL(ctx context.Context, conn *pgconn.PgConn, dec *Decoder, xld pglogrepl.XLogData) error {
	if len(xld.WALData) > 0 {
		switch xld.WALData[0] {
		case 'B':
			ss.inTxn = true
		case 'C':
			ss.inTxn = false
		}
	}
	ss.wire += int64(len(xld.WALData))
	txn, err := dec.Decode(ctx, LSN(xld.WALStart), xld.WALData)
	if err != nil {
		return decodeError(err)
	}
	if txn == nil {
		return nil
	}
	weighDecoded(txn, ss.wire)
	ss.wire = 0
	ss.stream.metrics.countLossy(ss.stream.src.Name, dec.takeLossy())
	if txn.EndLSN == 0 {
		txn.EndLSN = txn.CommitLSN
	}
	if txn.CommitTime.IsZero() {
		// A non-transactional message has no commit; the server's send time
		// is the closest there is.
		txn.CommitTime = xld.ServerTime
	}
	ss.decodedEnd = max(ss.decodedEnd, txn.EndLSN)
	if txn.EndLSN <= ss.delivered {
		// Sent again after a reconnect: downstream already has it.
		return dec.discardPages()
	}
	return ss.deliver(ctx, conn, dec, txn)
}

// push hands a transaction downstream, keeping the connection alive while
// downstream is slow: backpressure stops reading, never the heartbeat.
func (ss *session) push(ctx context.Context, conn *pgconn.PgConn, txn *Transaction) error {
	ss.stream.track(txn)
	ss.stream.metrics.observe(txn)
	// With nothing queued ahead of it, a transaction downstream has room
	// for goes there directly, without a hop through the delivering
	// goroutine.
	if try := ss.stream.tryDeliver; try != nil && ss.stream.queued.Load() == 0 && try(txn) {
		ss.stream.delivered(txn)
		ss.handedOver(txn)
		return nil
	}
	if !txn.Snapshot {
		// Snapshot chunks were charged to the capture budget when copied.
		if err := ss.reserve(ctx, conn, txn); err != nil {
			return err
		}
	}
	ss.stream.queued.Add(1)
	// Downstream usually has room: only a full buffer needs the ticker
	// that keeps the heartbeat going while waiting.
	select {
	case ss.out <- txn:
		ss.handedOver(txn)
		return nil
	default:
	}
	tick := time.NewTicker(ss.stream.opts.StatusInterval / 2)
	defer tick.Stop()
	for {
		select {
		case ss.out <- txn:
			ss.handedOver(txn)
			return nil
		case <-ctx.Done():
			ss.unqueue(txn)
			return ctx.Err()
		case <-tick.C:
			if err := ss.maybeSendStatus(ctx, conn, true); err != nil {
				ss.unqueue(txn)
				return err
			}
		}
	}
}

// unqueue takes back what push counted and charged for txn when it
// could not queue it after all: the session ends, and the server sends the
// transaction again to the next one.
func (ss *session) unqueue(txn *Transaction) {
	ss.stream.queued.Add(-1)
	ss.stream.delivered(txn)
}

// reserve charges txn's weight to the stream's capture budget before it is
// queued for the delivering goroutine, which releases it once delivered.
// While the budget is spent it waits, sending status updates so that the
// server does not time the connection out.
func (ss *session) reserve(ctx context.Context, conn *pgconn.PgConn, txn *Transaction) error {
	b := ss.stream.budget
	if charge, ok := b.TryAcquire(txn.Bytes); ok {
		txn.charge = charge
		return nil
	}
	for {
		wait, cancel := context.WithTimeout(ctx, ss.stream.opts.StatusInterval/2)
		charge, err := b.Acquire(wait, txn.Bytes)
		cancel()
		if err == nil {
			txn.charge = charge
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := ss.maybeSendStatus(ctx, conn, true); err != nil {
			return err
		}
	}
}

// handedOver records txn as delivered downstream, whichever way push
// handed it over. Only a transaction's last page (no More) completes it:
// after a reconnect the server sends the whole transaction again, and a
// position moved by an earlier page would make that resend look
// delivered and drop its remaining pages.
func (ss *session) handedOver(txn *Transaction) {
	if !txn.More {
		ss.delivered = txn.EndLSN
	}
}

// idleProgress lets the slot follow the server's WAL while this database
// is quiet: when every decoded transaction is confirmed and none is open,
// nothing below the keepalive's position is still owed downstream.
func (ss *session) idleProgress(walEnd LSN) {
	if !ss.inTxn && ss.stream.Confirmed() >= ss.decodedEnd && walEnd > ss.floor {
		ss.floor = walEnd
		ss.stream.pass(walEnd)
	}
}

func (ss *session) position() LSN { return max(ss.floor, ss.stream.Confirmed()) }

// nextWake is when the wait for the next message must end at the latest,
// at now: in time for the next status update that is due.
func (ss *session) nextWake(now time.Time) time.Time {
	// Wake at least every second to notice confirmations promptly.
	wake := now.Add(time.Second)
	if ss.nextStatus.Before(wake) {
		wake = ss.nextStatus
	}
	if pos := ss.position(); pos != ss.lastStatus {
		// A moved position is reported statusGap after the last update,
		// or, when it is ahead of the recorded mark, once the mark may
		// move (see reportable): waking before then finds nothing due,
		// and a deadline already past makes every read time out at once.
		gap := ss.statusSent.Add(statusGap)
		if rec := ss.markDue(pos); rec.After(gap) {
			gap = rec
		}
		if gap.Before(wake) {
			wake = gap
		}
	}
	return wake
}

// markDue is when reportable lets an update report pos: at once unless
// pos is ahead of what downstream confirmed and the recorded mark, which
// moves at most once a second.
func (ss *session) markDue(pos LSN) time.Time {
	if ss.stream.opts.Marks == nil || pos <= max(ss.recorded, ss.stream.Confirmed()) {
		return time.Time{}
	}
	return ss.lastRecord.Add(time.Second)
}

// statusGap is the shortest time between two status updates that report a
// position that moved. Downstream confirms every transaction, and a backlog
// holds thousands a second: an update for each cost a write here and a
// reply for the walsender to process, on the core it decodes the backlog
// with, for a position that a tenth of a second later is no less useful.
const statusGap = 100 * time.Millisecond

// maybeSendStatus reports the durable position when forced, when it moved
// (at most every statusGap), or when the status interval passed.
func (ss *session) maybeSendStatus(ctx context.Context, conn *pgconn.PgConn, force bool) error {
	return ss.statusAt(ctx, conn, time.Now(), force)
}

// statusAt is maybeSendStatus at now.
func (ss *session) statusAt(ctx context.Context, conn *pgconn.PgConn, now time.Time, force bool) error {
	ss.idleProgress(ss.serverWALEnd)
	pos, err := ss.reportable(force)
	if err != nil {
		return err
	}
	if !force && !ss.statusDue(now, pos) {
		return nil
	}
	return ss.sendStatus(ctx, conn, now, pos, ss.caughtUp(pos))
}

// caughtUp says whether an update reporting pos is the first to report
// everything decoded, and so asks for a reply: the server answers with a
// keepalive carrying its WAL end, which lets the slot follow WAL the
// publication has nothing in (other databases') at once, rather than
// after the server's next idle keepalive, up to half a minute later.
func (ss *session) caughtUp(pos LSN) bool {
	return pos >= ss.decodedEnd && ss.lastStatus < ss.decodedEnd
}

// statusDue says whether an update reporting pos is due at now: once the
// status interval passed, or once pos moved and statusGap passed since the
// last update.
func (ss *session) statusDue(now time.Time, pos LSN) bool {
	if !now.Before(ss.nextStatus) {
		return true
	}
	return pos != ss.lastStatus && now.Sub(ss.statusSent) >= statusGap
}

// sendStatus reports pos, a durable position reportable gave; with
// replyRequested the server answers with a keepalive at once, which proves
// the connection alive.
func (ss *session) sendStatus(ctx context.Context, conn *pgconn.PgConn, now time.Time, pos LSN, replyRequested bool) error {
	err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(pos),
		WALFlushPosition: pglogrepl.LSN(pos),
		WALApplyPosition: pglogrepl.LSN(pos),
		ClientTime:       now,
		ReplyRequested:   replyRequested,
	})
	if err != nil {
		return fmt.Errorf("send standby status update: %w", err)
	}
	ss.lastStatus, ss.statusSent = pos, now
	ss.nextStatus = now.Add(ss.stream.opts.StatusInterval)
	return nil
}
