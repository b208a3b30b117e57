package transform

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform/state"
)

// Writer takes finished documents: the sink's bulk writer. Submit calls ack
// once every document of the call is durable, in the order of the calls,
// and blocks while the writer's buffer is full.
type Writer interface {
	Submit(ctx context.Context, docs []sink.Document, ack func()) error
}

// Confirmer learns the positions that are durable end to end: applied to
// the store and every affected document acknowledged by the index.
type Confirmer func(source string, lsn capture.LSN)

// Options tunes the engine. The zero value is usable.
type Options struct {
	// MaxGroupEvents bounds how many events are applied in one atomic
	// batch; under load transactions are grouped, so a document changed by
	// several of them is written once.
	MaxGroupEvents int
	// IndexName maps a view to the index or alias its documents are written
	// to; the view name (its alias) by default.
	IndexName func(view string) string
	// DeadLetterIndex maps a view to the index its refused documents go to;
	// the sink's default ("<view>-deadletter") when nil.
	DeadLetterIndex func(view string) string
	// Taken, when set, is called with every transaction as the engine takes
	// it from its input, so that an input bounded by what it holds can make
	// room for more.
	Taken func(*capture.Transaction)
}

// Engine keeps the views' documents equal to the join of their source
// tables: it applies domain events to the store, re-derives exactly the
// documents they affect and hands them to the writer.
type Engine struct {
	store    *state.Store
	plan     *plan
	out      Writer
	confirm  Confirmer
	opts     Options
	log      *slog.Logger
	metrics  *Metrics
	versions *state.Versions
	seq      uint64              // the last group submitted
	synced   uint64              // the last group whose commit is synced
	settled  atomic.Uint64       // the last group acknowledged and confirmed; read by Backlog
	early    map[uint64]groupAck // acknowledged before an earlier group
	// sent holds, for each document sent and not settled yet, the group
	// that last marked it pending and sent it: settle clears a mark only
	// if no later group marked the document again, and knows that without
	// reading the mark back.
	sent map[state.DocRef]uint64

	// snapshotting holds the sources whose initial snapshot is not
	// complete, with the tables already copied. A view over any of them
	// only marks its documents pending: building and writing each one as
	// its rows arrive table by table would write most documents several
	// times. They go out together once the view's snapshots are complete
	// (release), or, when everything but the root table is copied, as the
	// root rows arrive.
	snapshotting map[string]map[capture.Table]bool
	viewSources  map[string][]string
	viewTables   map[string][]state.TableID
	// released is the last group carrying documents of a completed
	// snapshot; Backlog reports whether it is not settled yet.
	released atomic.Uint64
	// unmarked is the last group that sent documents without pending
	// marks (see copyOnly); a snapshot's closing transaction is committed
	// only once it is settled.
	unmarked uint64

	ackMu   sync.Mutex
	acked   []groupAck
	ackWake chan struct{}
}

// groupAck is what becomes true when the documents of one group are
// durable.
type groupAck struct {
	seq       uint64
	refs      []state.DocRef
	positions map[string]capture.LSN
	oldest    map[string]time.Time // per view, the oldest commit time it reflects
	at        time.Time
}

// NewEngine compiles the views over store.
func NewEngine(store *state.Store, views []*View, out Writer, confirm Confirmer, opts Options, metrics *Metrics, log *slog.Logger) (*Engine, error) {
	p, err := newPlan(views)
	if err != nil {
		return nil, err
	}
	vs, err := store.Versions()
	if err != nil {
		return nil, fmt.Errorf("load document versions: %w", err)
	}
	if opts.MaxGroupEvents <= 0 {
		opts.MaxGroupEvents = 10000
	}
	if opts.IndexName == nil {
		opts.IndexName = func(view string) string { return view }
	}
	e := &Engine{store: store, plan: p, out: out, confirm: confirm, opts: opts, log: log,
		metrics: metrics, versions: vs, ackWake: make(chan struct{}, 1), early: map[uint64]groupAck{}, sent: map[state.DocRef]uint64{},
		snapshotting: map[string]map[capture.Table]bool{}, viewSources: map[string][]string{}, viewTables: map[string][]state.TableID{}}
	for _, v := range views {
		v.Root.walk(func(n *Node) {
			if !slices.Contains(e.viewSources[v.Name], n.Source) {
				e.viewSources[v.Name] = append(e.viewSources[v.Name], n.Source)
			}
			if !slices.Contains(e.viewTables[v.Name], n.id()) {
				e.viewTables[v.Name] = append(e.viewTables[v.Name], n.id())
			}
		})
	}
	for _, sources := range e.viewSources {
		for _, source := range sources {
			cp, err := store.Checkpoint(source)
			if err != nil {
				return nil, err
			}
			// A snapshot that a stop interrupted starts over, and the
			// documents it left pending wait for it again.
			if cp.Applied > 0 && !cp.SnapshotDone {
				e.snapshotting[source] = map[capture.Table]bool{}
			}
		}
	}
	return e, nil
}

// Backlog reports whether documents of a completed snapshot are still on
// their way to the index: the snapshot is applied, but the view does not
// answer with all of it yet. Safe to call from any goroutine.
func (e *Engine) Backlog() bool { return e.settled.Load() < e.released.Load() }

// deferred reports whether view's documents wait for a snapshot: one of
// its sources is being copied, unless only its root table remains to be,
// in which case each root row arrives with everything it joins.
func (e *Engine) deferred(view string) bool {
	if len(e.snapshotting) == 0 {
		return false // streaming: the common case, on every changed document
	}
	v := e.plan.byName[view]
	for _, source := range e.viewSources[view] {
		copied, ok := e.snapshotting[source]
		if !ok {
			continue
		}
		if v == nil || source != v.Root.Source {
			return true
		}
		for _, t := range e.viewTables[view] {
			if t.Source == source && t.Table != v.Root.Table && !copied[t.Table] {
				return true
			}
		}
	}
	return false
}

// rootCopying reports whether v's root table may still be copied while
// v's documents wait: every root row then marks its own document, so a
// change below the root need not look its roots up.
func (e *Engine) rootCopying(v *View) bool {
	_, ok := e.snapshotting[v.Root.Source]
	return ok && e.deferred(v.Name)
}

func (e *Engine) deferredViews() map[string]bool {
	views := map[string]bool{}
	for view := range e.viewSources {
		if e.deferred(view) {
			views[view] = true
		}
	}
	return views
}

// Checkpoint says where capture of source resumes.
func (e *Engine) Checkpoint(source string) (capture.Checkpoint, error) {
	return e.store.Checkpoint(source)
}

// Run applies transactions from in until ctx ends or in is closed. First it
// sends again the documents that were pending when projector last
// stopped, then confirms each source's applied position once they are
// durable. Closing in is the graceful stop: Run returns once everything
// applied so far is acknowledged and confirmed.
func (e *Engine) Run(ctx context.Context, in <-chan *capture.Transaction) error {
	if err := e.resendPending(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.store.Failed():
			return e.store.Err()
		case <-e.ackWake:
			if err := e.settle(); err != nil {
				return err
			}
		case txn, ok := <-in:
			if !ok {
				return e.drain(ctx)
			}
			e.taken(txn)
			if err := e.applyGroup(ctx, e.collect(txn, in)); err != nil {
				return err
			}
		}
	}
}

func (e *Engine) taken(txn *capture.Transaction) {
	if e.opts.Taken != nil {
		e.opts.Taken(txn)
	}
}

// drain waits until every submitted group is acknowledged and settled.
func (e *Engine) drain(ctx context.Context) error { return e.settleUpTo(ctx, e.seq) }

// settleUpTo waits until every group up to seq is acknowledged and
// settled.
func (e *Engine) settleUpTo(ctx context.Context, seq uint64) error {
	for e.settled.Load() < seq {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.ackWake:
			if err := e.settle(); err != nil {
				return err
			}
		}
	}
	return nil
}

// collect groups the transactions already waiting, up to the size bound:
// grouping is free under load and costs no latency when idle.
func (e *Engine) collect(first *capture.Transaction, in <-chan *capture.Transaction) []*capture.Transaction {
	group := []*capture.Transaction{first}
	events := len(first.Changes)
	for events < e.opts.MaxGroupEvents {
		select {
		case txn, ok := <-in:
			if !ok {
				return group
			}
			e.taken(txn)
			group = append(group, txn)
			events += len(txn.Changes)
		default:
			return group
		}
	}
	return group
}

// copyOnly reports whether a group holds nothing but snapshot rows: no
// snapshot's start, which removes rows, and no snapshot's end. The
// documents such a group sends need no pending marks: until the closing
// transaction of its snapshot is committed, a crash starts the snapshot
// over, and copying the rows again marks every one of those documents
// again. Leaving the marks out spares the store a write and a delete per
// document of a snapshot.
func copyOnly(group []*capture.Transaction) bool {
	for _, txn := range group {
		if !txn.Snapshot || txn.Reset || txn.SnapshotDone {
			return false
		}
	}
	return true
}

func (e *Engine) applyGroup(ctx context.Context, group []*capture.Transaction) error {
	if slices.ContainsFunc(group, func(txn *capture.Transaction) bool { return txn.SnapshotDone }) {
		// The documents sent unmarked must be durable before a snapshot
		// can no longer start over.
		if err := e.settleUpTo(ctx, e.unmarked); err != nil {
			return err
		}
	}
	unmarked := copyOnly(group)
	e.seq++
	b := e.store.NewBatch()
	defer b.Close() // uncommitted, it also drops the row cache, which holds the batch's rows
	a := &applier{plan: e.plan, b: b, dirty: map[state.DocRef]struct{}{}, rootCopying: e.rootCopying,
		checkpoints: map[string]capture.Checkpoint{}}
	waiting := e.deferredViews()
	ack := groupAck{seq: e.seq, positions: map[string]capture.LSN{}, oldest: map[string]time.Time{}}
	var oldest time.Time
	ended := false  // a snapshot ended in this group
	copied := false // the group holds snapshot rows
	for _, txn := range group {
		ended = ended || txn.SnapshotDone
		copied = copied || txn.Snapshot
		applied, err := e.applyTxn(a, txn)
		if err != nil {
			return err
		}
		// A snapshot is confirmed by its closing transaction alone, once
		// its documents are durable; one cut short starts over anyway.
		if !txn.Snapshot || txn.SnapshotDone {
			ack.positions[txn.Source] = max(ack.positions[txn.Source], txn.EndLSN)
		}
		if applied && (oldest.IsZero() || txn.CommitTime.Before(oldest)) {
			oldest = txn.CommitTime
		}
	}
	// Views whose last snapshot completed in this group send all their
	// pending documents below, these included.
	complete := map[string]bool{}
	for view := range waiting {
		if !e.deferred(view) {
			complete[view] = true
		}
	}
	for source, cp := range a.checkpoints {
		if err := b.SetCheckpoint(source, cp); err != nil {
			return err
		}
	}
	var marked []state.DocRef // sent documents that carry a pending mark
	for ref := range a.dirty {
		sendNow := !e.deferred(ref.View) && !complete[ref.View]
		mark := !sendNow || !unmarked // see copyOnly
		if mark {
			if err := b.MarkPending(ref, e.seq); err != nil {
				return err
			}
		}
		if !sendNow {
			continue
		}
		if mark {
			marked = append(marked, ref)
		}
		ack.refs = append(ack.refs, ref)
		ack.oldest[ref.View] = oldest
	}
	// Not synced here: nothing of the group is confirmed to a source
	// before settle has synced the log, and a group lost in a crash is
	// sent again by the source and applied again.
	if err := e.store.Err(); err != nil {
		return err // committing would soon stall behind the failed writes
	}
	if err := b.Commit(); err != nil {
		return fmt.Errorf("commit state: %w", err)
	}
	for ref := range a.dirty {
		delete(e.sent, ref) // marked again: an earlier group's settle must leave the mark
	}
	for _, ref := range marked {
		e.sent[ref] = ack.seq
	}
	if unmarked && len(ack.refs) > 0 {
		e.unmarked = ack.seq
	}
	state.SortRefs(ack.refs)
	if len(complete) == 0 {
		if ended {
			e.released.Store(ack.seq) // the snapshot's last documents
		}
		return e.send(ctx, ack, !copied)
	}
	// The group's positions are confirmed only after the documents its
	// snapshot completed: groups settle in order.
	positions := ack.positions
	ack.positions = map[string]capture.LSN{}
	if err := e.send(ctx, ack, !copied); err != nil {
		return err
	}
	n, err := e.release(ctx, func(view string) bool { return complete[view] }, positions)
	if err != nil {
		return err
	}
	e.log.Info("snapshot complete; documents sent", "views", len(complete), "documents", n)
	return nil
}

// pageDocs is how many documents are built and submitted at a time.
const pageDocs = 2000

// release sends every pending document of the views keep accepts, a page
// at a time, and then confirms positions. It returns how many documents it
// sent.
func (e *Engine) release(ctx context.Context, keep func(view string) bool, positions map[string]capture.LSN) (int, error) {
	e.released.Store(math.MaxUint64) // a backlog until the last group is known
	var from []byte
	sent := 0
	for {
		refs, next, err := e.store.PendingPage(from, pageDocs, keep)
		if err != nil {
			return sent, err
		}
		if len(refs) > 0 {
			e.seq++
			// Re-mark under this group's number so its acknowledgement
			// clears them; losing this in a crash only means sending again.
			marks := e.store.NewPendingMarks()
			for _, ref := range refs {
				if err := marks.Mark(ref, e.seq); err != nil {
					marks.Close()
					return sent, err
				}
			}
			if err := marks.Commit(); err != nil {
				return sent, fmt.Errorf("mark pending documents: %w", err)
			}
			for _, ref := range refs {
				e.sent[ref] = e.seq
			}
			if err := e.send(ctx, groupAck{seq: e.seq, refs: refs, positions: map[string]capture.LSN{}}, false); err != nil {
				return sent, err
			}
			sent += len(refs)
			select {
			case <-e.ackWake:
				if err := e.settle(); err != nil {
					return sent, err
				}
			default:
			}
		}
		if next == nil {
			break
		}
		from = next
	}
	e.seq++
	e.released.Store(e.seq)
	return sent, e.send(ctx, groupAck{seq: e.seq, positions: positions}, false)
}

// applyTxn applies one transaction unless the store already has it (a
// redelivery after a restart), and advances the source's checkpoint.
func (e *Engine) applyTxn(a *applier, txn *capture.Transaction) (bool, error) {
	cp, err := a.checkpoint(txn.Source)
	if err != nil {
		return false, err
	}
	if !txn.Snapshot && txn.EndLSN <= cp.Applied {
		return false, nil
	}
	switch {
	case txn.Snapshot && !txn.SnapshotDone:
		copied := map[capture.Table]bool{}
		for _, t := range txn.Copied {
			copied[t] = true
		}
		e.snapshotting[txn.Source] = copied
	case !txn.Snapshot:
		delete(e.snapshotting, txn.Source) // streaming: no snapshot under way
	}
	if txn.Reset {
		if err := a.removeSource(txn.Source); err != nil {
			return false, fmt.Errorf("reset source %q: %w", txn.Source, err)
		}
		cp = capture.Checkpoint{}
	}
	a.copying = txn.Snapshot
	for i := range txn.Changes {
		if err := a.apply(txn.Source, &txn.Changes[i]); err != nil {
			return false, fmt.Errorf("apply %s of %s in transaction %d (%s at %s): %w",
				txn.Changes[i].Op, txn.Changes[i].Table, txn.XID, txn.Source, txn.EndLSN, err)
		}
	}
	cp.Applied = max(cp.Applied, txn.EndLSN)
	// Capture streams only after its snapshot, so a streamed transaction
	// also says the snapshot is done.
	cp.SnapshotDone = cp.SnapshotDone || txn.SnapshotDone || !txn.Snapshot
	if txn.SnapshotDone {
		delete(e.snapshotting, txn.Source)
	}
	e.metrics.events.Add(float64(len(txn.Changes)))
	a.checkpoints[txn.Source] = cp
	return true, nil
}

// send builds the documents of a group from the committed state and
// submits them, a page at a time: a group of a few events can affect tens
// of thousands of documents (a renamed customer embedded in every order),
// which must not all be held at once. The writer acknowledges submissions
// in order, so the group's acknowledgement rides on its last page and
// comes back through settle. With streamed, the rows read are added to the
// row cache: streamed changes touch the same rows again soon, a
// snapshot's documents each read their rows once.
func (e *Engine) send(ctx context.Context, ack groupAck, streamed bool) error {
	if err := e.versions.Reserve(len(ack.refs)); err != nil {
		return fmt.Errorf("reserve document versions: %w", err)
	}
	mode := state.ReadThrough
	if streamed {
		mode = state.ReadCached
	}
	builder := newDocBuilder(e.store.Snapshot(mode))
	defer builder.Close() //nolint:errcheck // a read-only iterator; the documents are built
	position := positionsString(ack.positions)
	docs := make([]sink.Document, 0, min(len(ack.refs), pageDocs))
	submitted := false
	for _, ref := range ack.refs {
		v := e.plan.byName[ref.View]
		if v == nil {
			continue // a view removed from the configuration
		}
		src, err := builder.build(v, ref.ID)
		if err != nil {
			return fmt.Errorf("build %s document %s: %w", ref.View, ref.ID, err)
		}
		id := docID(ref.ID)
		docs = append(docs, sink.Document{
			Index: e.opts.IndexName(ref.View), ID: id, Version: e.versions.Take(),
			Source: withKeyField(src, id, ref.ID), View: ref.View, Position: position,
			DeadLetters: e.deadLetters(ref.View),
		})
		if len(docs) == pageDocs {
			e.metrics.documents.Add(float64(len(docs)))
			if err := e.out.Submit(ctx, docs, func() {}); err != nil {
				return err
			}
			submitted = true
			docs = make([]sink.Document, 0, pageDocs)
		}
	}
	e.metrics.documents.Add(float64(len(docs)))
	if len(docs) == 0 && !submitted {
		e.acknowledged(ack)
		return nil
	}
	return e.out.Submit(ctx, docs, func() { e.acknowledged(ack) })
}

// acknowledged runs on the writer's goroutine; the engine's own goroutine
// settles, so that only it writes to the store.
func (e *Engine) acknowledged(ack groupAck) {
	ack.at = time.Now()
	e.ackMu.Lock()
	e.acked = append(e.acked, ack)
	e.ackMu.Unlock()
	select {
	case e.ackWake <- struct{}{}:
	default:
	}
}

// settle clears the pending marks of acknowledged documents (unless a
// later group marked them again) and confirms the positions.
func (e *Engine) settle() error {
	e.ackMu.Lock()
	for _, ack := range e.acked {
		e.early[ack.seq] = ack
	}
	e.acked = e.acked[:0]
	e.ackMu.Unlock()
	// Groups without documents are acknowledged at once, possibly before
	// earlier groups the index has not acknowledged yet: settling strictly
	// in group order keeps their positions from being confirmed early.
	for {
		ack, ok := e.early[e.settled.Load()+1]
		if !ok {
			return nil
		}
		delete(e.early, ack.seq)
		marks := e.store.NewPendingMarks()
		for _, ref := range ack.refs {
			if e.sent[ref] != ack.seq {
				continue // marked again since; a later group clears it
			}
			delete(e.sent, ref)
			if err := marks.Clear(ref); err != nil {
				marks.Close()
				return err
			}
		}
		// Losing these deletes in a crash only means sending again.
		if err := marks.Commit(); err != nil {
			return fmt.Errorf("clear pending documents: %w", err)
		}
		for view, t := range ack.oldest {
			if !t.IsZero() {
				e.metrics.viewLag.WithLabelValues(view).Observe(ack.at.Sub(t).Seconds())
			}
		}
		if len(ack.positions) > 0 && e.synced < ack.seq {
			if err := e.syncLog(); err != nil {
				return err
			}
		}
		for source, lsn := range ack.positions {
			e.confirm(source, lsn)
		}
		e.settled.Store(ack.seq)
	}
}

// syncLog makes every group committed so far durable: the store's log is
// written in order, so syncing it syncs all of them. One sync per settled
// round of acknowledgements replaces one per group.
func (e *Engine) syncLog() error {
	if err := e.store.Err(); err != nil {
		return err
	}
	if err := e.store.SyncLog(); err != nil {
		return fmt.Errorf("sync state: %w", err)
	}
	e.synced = e.seq
	return nil
}

// resendPending sends the documents that were derived but not acknowledged
// when projector stopped, except those of views still waiting for a
// snapshot, and confirms every source's applied position once they are
// durable.
func (e *Engine) resendPending(ctx context.Context) error {
	positions := map[string]capture.LSN{}
	for _, pl := range e.plan.tables {
		cp, err := e.store.Checkpoint(pl.id.Source)
		if err != nil {
			return err
		}
		if cp.Applied > 0 {
			positions[pl.id.Source] = cp.Applied
		}
	}
	n, err := e.release(ctx, func(view string) bool { return !e.deferred(view) }, positions)
	if n > 0 {
		e.log.Info("sent documents left pending at the last stop", "documents", n)
	}
	return err
}

func positionsString(p map[string]capture.LSN) string {
	s := ""
	for source, lsn := range p {
		if s != "" {
			s += " "
		}
		s += source + "@" + lsn.String()
	}
	return s
}

func (e *Engine) deadLetters(view string) string {
	if e.opts.DeadLetterIndex == nil {
		return ""
	}
	return e.opts.DeadLetterIndex(view)
}
