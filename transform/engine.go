package transform

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform/ledger"
	"github.com/projector-dev/projector/transform/state"
)

// Writer takes finished documents: the sink's bulk writer. Submit calls ack
// once every document of the call is durable, in no particular order
// among calls (the position ledger orders them), and blocks while the
// writer's buffer is full.
type Writer interface {
	Submit(ctx context.Context, docs []sink.Document, ack func()) error
}

// Confirmer learns the positions that are durable end to end: applied to
// the store and every affected document acknowledged by the index. The
// engine's position ledger is its only caller; ledger.Streams routes it
// to the sources' replication streams.
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
	// Applied, when set, is called with every transaction once the engine
	// has applied it (its group committed to the state), so that an input
	// bounded by what it holds (the feed's share of the memory budget) can
	// release its weight: the rows of the group being applied stay
	// charged, and what waits beside them is bounded by what is left. The
	// engine never waits for room in its input, so holding the charge
	// until then cannot deadlock it.
	Applied func(*capture.Transaction)
	// Entities are the entities folded from published domain events that
	// views may read like tables.
	Entities []Entity
	// Refolds are the entities to fold again from their event logs before
	// the first transaction is applied (see Refold).
	Refolds []Refold
	// Builds names the views whose documents are built from the rows the
	// store already holds, into the index IndexName gives (statebuild.go).
	Builds []string
	// GroupLinger is the longest a group of streamed transactions waits
	// for more when none is waiting. On a steady stream (transactions
	// committed less than GroupLinger/2 apart on average) a group waits
	// four of the stream's gaps, between half a GroupLinger and a whole
	// one, and then has the writer send it at once, so a light load
	// commits, syncs, confirms and sends its changes a few transactions
	// at a time instead of one at a time, for at most this much more lag.
	// A sparser stream, or a lone change after a quiet spell, waits for
	// nothing (lingerFor). Zero applies what is waiting at once. A
	// lingering group takes what arrived once its wait is over, so Run's
	// input must be buffered for it to gain company.
	GroupLinger time.Duration
}

// Engine keeps the views' documents equal to the join of their source
// tables: it applies domain events to the store, re-derives exactly the
// documents they affect and hands them to the writer.
type Engine struct {
	store    *state.Store
	plan     *plan
	out      Writer
	opts     Options
	log      *slog.Logger
	metrics  *Metrics
	versions *state.Versions
	folds    *folds
	builds   *builds
	// ledger gives every applied group a ticket, settles them in order
	// once their documents are durable, and confirms their positions.
	ledger *ledger.Ledger[groupNote]
	synced ledger.Ticket // the last group whose commit is synced
	// sent holds, for each document sent and not settled yet, the group
	// that last marked it pending and sent it: settle clears a mark only
	// if no later group marked the document again, and knows that without
	// reading the mark back.
	sent map[state.DocRef]ledger.Ticket

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
	// arrivals measures how far apart streamed transactions come, to
	// plan each group's linger (see GroupLinger).
	arrivals arrivals
	// hurry ends a group's lingering at once (Hurry): a reader waits for
	// a change the group may hold.
	hurry chan struct{}
	// unmarked is the last group that sent documents without pending
	// marks (see copyOnly); a snapshot's closing transaction is committed
	// only once it is settled.
	unmarked ledger.Ticket
	// resent is one more than the ticket that sent again the documents
	// pending at start, once it is issued; 0 before (see Durable).
	resent atomic.Uint64
}

// groupNote is what the engine keeps with a group's ticket, to finish the
// group once its documents are durable.
type groupNote struct {
	refs   []state.DocRef
	oldest map[string]time.Time // per view, the oldest commit time it reflects

	// deadLetters are those of the events that failed to fold.
	deadLetters []sink.Document
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
	folds, err := newFolds(opts.Entities, views, metrics, opts.DeadLetterIndex)
	if err != nil {
		return nil, err
	}
	folds.setLog(log)
	e := &Engine{store: store, plan: p, out: out, opts: opts, log: log, folds: folds,
		metrics: metrics, versions: vs, ledger: ledger.New[groupNote](ledger.ConfirmFunc(confirm)), sent: map[state.DocRef]ledger.Ticket{},
		snapshotting: map[string]map[capture.Table]bool{}, viewSources: map[string][]string{}, viewTables: map[string][]state.TableID{},
		hurry: make(chan struct{}, 1)}
	if e.builds, err = newBuilds(store, p, opts.Builds, opts.IndexName); err != nil {
		return nil, err
	}
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
func (e *Engine) Backlog() bool { return uint64(e.ledger.Settled()) < e.released.Load() }

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
	e.resent.Store(uint64(e.ledger.Issued()) + 1)
	if err := e.refoldRequested(ctx); err != nil {
		return err
	}
	e.builds.started(e.ledger.Issued())
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.store.Failed():
			return e.store.Err()
		case <-e.ledger.Wake():
			if err := e.settle(); err != nil {
				return err
			}
		case <-e.builds.ready():
			if err := e.buildPage(ctx); err != nil {
				return err
			}
		case txn, ok := <-in:
			if !ok {
				return e.drain(ctx)
			}
			group, plan := e.collect(ctx, txn, in)
			if err := e.applyGroup(ctx, group); err != nil {
				return err
			}
			// Applied and committed: documents are built from the state,
			// and nothing the group's changes were applied to keeps their
			// rows, so capture may decode the next snapshot chunk into them.
			for _, txn := range group {
				txn.Release()
				e.applied(txn)
			}
			if plan.flush {
				e.flush()
			}
		}
	}
}

func (e *Engine) applied(txn *capture.Transaction) {
	if e.opts.Applied != nil {
		e.opts.Applied(txn)
	}
}

// drain waits until every submitted group is acknowledged and settled.
func (e *Engine) drain(ctx context.Context) error { return e.settleUpTo(ctx, e.ledger.Issued()) }

// settleUpTo waits until every group up to t is acknowledged and settled.
func (e *Engine) settleUpTo(ctx context.Context, t ledger.Ticket) error {
	for e.ledger.Settled() < t {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.ledger.Wake():
			if err := e.settle(); err != nil {
				return err
			}
		}
	}
	return nil
}

// collect groups the transactions already waiting, up to the size bound:
// grouping is free under load and costs no latency when idle. While a
// stream is steady, a group of streamed changes also waits for
// transactions that are about to arrive, as lingerFor plans from the
// stream's recent arrivals: each group costs a state commit, a sync and a
// round of acknowledgements however small it is.
//
// A lingering group sleeps through its wait and then takes what arrived,
// rather than waking for each arrival: on a light stream a wake-up per
// transaction cost the scheduler more than applying it did.
func (e *Engine) collect(ctx context.Context, first *capture.Transaction, in <-chan *capture.Transaction) ([]*capture.Transaction, lingerPlan) {
	e.arrivals.observe(first, 2*e.opts.GroupLinger)
	plan := e.lingerFor(first)
	group := []*capture.Transaction{first}
	events := len(first.Changes)
	group, events, closed := e.takeWaiting(group, events, in)
	if closed || events >= e.opts.MaxGroupEvents || plan.wait <= 0 {
		// Formed from what was waiting: the sink batches it.
		return group, lingerPlan{}
	}
	t := time.NewTimer(plan.wait)
	select {
	case <-t.C:
	case <-e.hurry:
	case <-ctx.Done():
	}
	t.Stop()
	group, _, _ = e.takeWaiting(group, events, in)
	return group, plan
}

// takeWaiting adds the transactions waiting in in to group, up to the size
// bound, without waiting for more; closed reports that in is closed.
func (e *Engine) takeWaiting(group []*capture.Transaction, events int, in <-chan *capture.Transaction) (_ []*capture.Transaction, _ int, closed bool) {
	for events < e.opts.MaxGroupEvents {
		select {
		case txn, ok := <-in:
			if !ok {
				return group, events, true
			}
			e.arrivals.observe(txn, 2*e.opts.GroupLinger)
			group = append(group, txn)
			events += len(txn.Changes)
		default:
			return group, events, false
		}
	}
	return group, events, false
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

// copyBatchMinRows is the fewest copied rows a group needs to be written
// as ingested sorted tables: each ingest creates and syncs files of its
// own, which costs more than the memtable for a small group (a small
// table, the last rows of a copy).
const copyBatchMinRows = 1024

// changeCount is how many row changes group holds.
func changeCount(group []*capture.Transaction) int {
	n := 0
	for _, txn := range group {
		n += len(txn.Changes)
	}
	return n
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
	ticket := e.ledger.NextTicket()
	newBatch := e.store.NewBatch
	if unmarked && changeCount(group) >= copyBatchMinRows {
		newBatch = e.store.NewCopyBatch // a crash copies these rows again, see copyOnly
	}
	b := newBatch()
	defer b.Close() // uncommitted, it also drops the row cache, which holds the batch's rows
	a := &applier{plan: e.plan, b: b, dirty: map[state.DocRef]struct{}{}, rootCopying: e.rootCopying,
		checkpoints: map[string]capture.Checkpoint{}}
	waiting := e.deferredViews()
	note := groupNote{oldest: map[string]time.Time{}}
	positions := map[string]capture.LSN{}
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
		// A page of a transaction (More) is confirmed with its last page.
		if (!txn.Snapshot || txn.SnapshotDone) && !txn.More {
			positions[txn.Source] = max(positions[txn.Source], txn.EndLSN)
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
			if err := b.MarkPending(ref, uint64(ticket)); err != nil {
				return err
			}
		}
		if !sendNow {
			continue
		}
		if mark {
			marked = append(marked, ref)
		}
		note.refs = append(note.refs, ref)
		note.oldest[ref.View] = oldest
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
		e.sent[ref] = ticket
	}
	if unmarked && len(note.refs) > 0 {
		e.unmarked = ticket
	}
	state.SortRefs(note.refs)
	note.deadLetters = a.deadLetters
	if len(complete) == 0 {
		if err := e.issue(ticket, positions, note); err != nil {
			return err
		}
		if ended {
			e.released.Store(uint64(ticket)) // the snapshot's last documents
		}
		return e.send(ctx, ticket, positions, note, !copied)
	}
	// The group's positions are confirmed only after the documents its
	// snapshot completed: tickets settle in order.
	if err := e.issue(ticket, nil, note); err != nil {
		return err
	}
	if err := e.send(ctx, ticket, nil, note, !copied); err != nil {
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
			// Pending marks come in the byte order of the keys' JSON form
			// ("[10000]" before "[9]"); built in the store's order instead,
			// the page reads its rows forward (state.Reader).
			state.SortRefs(refs)
			ticket := e.ledger.NextTicket()
			// Re-mark under this group's ticket so its acknowledgement
			// clears them; losing this in a crash only means sending again.
			marks := e.store.NewPendingMarks()
			for _, ref := range refs {
				if err := marks.Mark(ref, uint64(ticket)); err != nil {
					marks.Close()
					return sent, err
				}
			}
			if err := marks.Commit(); err != nil {
				return sent, fmt.Errorf("mark pending documents: %w", err)
			}
			for _, ref := range refs {
				e.sent[ref] = ticket
			}
			note := groupNote{refs: refs}
			if err := e.issue(ticket, nil, note); err != nil {
				return sent, err
			}
			if err := e.send(ctx, ticket, nil, note, false); err != nil {
				return sent, err
			}
			sent += len(refs)
			select {
			case <-e.ledger.Wake():
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
	ticket := e.ledger.Issue(positions, groupNote{})
	e.released.Store(uint64(ticket))
	return sent, e.send(ctx, ticket, positions, groupNote{}, false)
}

// issue records a committed group in the ledger under the ticket its
// pending marks were written with.
func (e *Engine) issue(ticket ledger.Ticket, positions map[string]capture.LSN, note groupNote) error {
	if t := e.ledger.Issue(positions, note); t != ticket {
		return fmt.Errorf("position ledger issued ticket %d to a group marked as %d", t, ticket)
	}
	return nil
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
		e.ledger.Reset(txn.Source)
	}
	a.copying = txn.Snapshot
	for i := range txn.Changes {
		if err := a.apply(txn.Source, &txn.Changes[i]); err != nil {
			return false, fmt.Errorf("apply %s of %s in transaction %d (%s at %s): %w",
				txn.Changes[i].Op, txn.Changes[i].Table, txn.XID, txn.Source, txn.EndLSN, err)
		}
	}
	if err := e.folds.apply(a, txn); err != nil {
		return false, fmt.Errorf("apply transaction %d (%s at %s): %w", txn.XID, txn.Source, txn.EndLSN, err)
	}
	// A page of a transaction (More) leaves the checkpoint to its last
	// page: a crash in between applies the whole transaction again, and
	// applying a change again is harmless.
	if !txn.More {
		cp.Applied = max(cp.Applied, txn.EndLSN)
		// Capture streams only after its snapshot, so a streamed
		// transaction also says the snapshot is done.
		cp.SnapshotDone = cp.SnapshotDone || txn.SnapshotDone || !txn.Snapshot
	}
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
// which must not all be held at once. The writer acknowledges each page
// once its documents are durable, in no particular order; the group's
// ticket is acknowledged to the ledger when the last of its pages is, and
// the ledger settles tickets in order. With streamed, the rows read are
// added to the row cache: streamed changes touch the same rows again
// soon, a snapshot's documents each read their rows once.
func (e *Engine) send(ctx context.Context, ticket ledger.Ticket, positions map[string]capture.LSN, note groupNote, streamed bool) error {
	if err := e.versions.Reserve(len(note.refs) + len(note.deadLetters)); err != nil {
		return fmt.Errorf("reserve document versions: %w", err)
	}
	mode := state.ReadThrough
	if streamed {
		mode = state.ReadCached
	}
	builder := newDocBuilder(e.store.Snapshot(mode))
	defer builder.Close() //nolint:errcheck // a read-only iterator; the documents are built
	// pages counts the pages not yet durable, plus one that send itself
	// holds until every page is submitted, so that the ticket cannot be
	// acknowledged while pages are still being built. Acknowledgements
	// run on the writer's goroutine; the engine's own goroutine settles,
	// so that only it writes to the store.
	var pages atomic.Int64
	pages.Store(1)
	pageDone := func() {
		if pages.Add(-1) == 0 {
			e.ledger.Acknowledge(ticket, time.Now())
		}
	}
	submit := func(docs []sink.Document) error {
		e.metrics.documents.Add(float64(len(docs)))
		pages.Add(1)
		return e.out.Submit(ctx, docs, pageDone)
	}
	position := positionsString(positions)
	if len(note.deadLetters) > 0 {
		for i := range note.deadLetters {
			note.deadLetters[i].Version = e.versions.Take()
		}
		if err := submit(note.deadLetters); err != nil {
			return err
		}
	}
	docs := make([]sink.Document, 0, min(len(note.refs), pageDocs))
	for _, ref := range note.refs {
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
			if err := submit(docs); err != nil {
				return err
			}
			docs = make([]sink.Document, 0, pageDocs)
		}
	}
	if len(docs) > 0 {
		if err := submit(docs); err != nil {
			return err
		}
	}
	// Nothing left to submit: with no page at all, the group is durable
	// now, and the ledger still settles its ticket only after every
	// earlier one.
	pageDone()
	return nil
}

// settle finishes the groups the ledger has ready, in ticket order: it
// clears the pending marks of their documents (unless a later group
// marked them again), syncs the state before a position is confirmed, and
// settles the ticket, which confirms its positions.
func (e *Engine) settle() error {
	for {
		ack, ok := e.ledger.Next()
		if !ok {
			return nil
		}
		marks := e.store.NewPendingMarks()
		for _, ref := range ack.Note.refs {
			if e.sent[ref] != ack.Ticket {
				continue // marked again since; a later group clears it
			}
			delete(e.sent, ref)
			if err := marks.Clear(ref); err != nil {
				marks.Close()
				return err
			}
		}
		// Losing these deletes in a crash only means sending again. When
		// the ticket confirms a position, the state must be synced first:
		// committing the deletes with a sync does both in one commit of the
		// store's log rather than two, and an empty batch that confirms
		// nothing is not committed at all.
		switch {
		case len(ack.Positions) > 0 && e.synced < ack.Ticket:
			if err := e.commitSynced(marks); err != nil {
				return err
			}
		case marks.Empty():
			marks.Close()
		default:
			if err := marks.Commit(); err != nil {
				return fmt.Errorf("clear pending documents: %w", err)
			}
		}
		for view, t := range ack.Note.oldest {
			if !t.IsZero() {
				e.metrics.viewLag.WithLabelValues(view).Observe(ack.Acknowledged.Sub(t).Seconds())
			}
		}
		if !e.ledger.Settle(ack.Ticket) {
			return fmt.Errorf("position ledger refused to settle ticket %d", ack.Ticket)
		}
	}
}

// commitSynced commits marks with a sync of the store's log, which makes
// every group committed so far durable with it: the log is written in
// order. One sync per settled round of acknowledgements replaces one per
// group.
func (e *Engine) commitSynced(marks *state.PendingMarks) error {
	if err := e.store.Err(); err != nil {
		marks.Close()
		return err
	}
	if err := marks.CommitSynced(); err != nil {
		return fmt.Errorf("clear pending documents and sync state: %w", err)
	}
	e.synced = e.ledger.Issued()
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
