package transform

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/fold"
	"github.com/projector-dev/projector/transform/state"
)

// foldLog is what the fold keeps to log the events it folds (see
// state.LoggedEvent): the event table holds only the events housekeeping
// left in it, and no message at all. With the log, a changed reducer folds
// every entity again from all of its events, when the engine starts
// (Options.Refolds) while the source keeps its slot, or at the start of a
// fresh snapshot of the source.
type foldLog struct {
	log *slog.Logger
	// refolding is set while the events folded come from the log: they
	// are logged already.
	refolding bool
	// rowJSON is where an event row is written as JSON, for the log and
	// for dead letters; it is reused from event to event.
	rowJSON []byte
	// logged is the event being logged, reused from event to event.
	logged state.LoggedEvent
	// refolded is one more than the ticket of the group that folded the
	// requested entities again (Options.Refolds), once it is issued; 0
	// before (see Engine.Refolded).
	refolded atomic.Uint64
}

// keeps reports whether the state keeps the events the entity folds.
func (ep *entityPlan) keeps() bool { return ep.Stream.Keep != config.KeepNone }

// rowJSON writes an event row's columns as one JSON object, in the form
// decodeRow reads, into a buffer reused from event to event: valid until
// the next event.
func (f *folds) rowJSON(row capture.Row) []byte {
	b := append(f.fl.rowJSON[:0], '{')
	first := true
	for k, v := range row {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendJSON(b, v)
	}
	b = append(b, '}')
	f.fl.rowJSON = b
	return b
}

// logEvent appends an event the entity is about to fold to its log, unless
// the entity keeps no events or the event comes from the log. A snapshot's
// event (not skipSeen) the log already holds, by its id, is not folded
// again: it was folded from the log when the snapshot began (skip).
func (f *folds) logEvent(a *applier, ep *entityPlan, pos position, ev *fold.Event, raw func() []byte, skipSeen bool) (skip bool, err error) {
	if f.fl.refolding || !ep.keeps() {
		return false, nil
	}
	id := ""
	kind := state.EventMessage
	if ep.table != (capture.Table{}) {
		id, kind = ev.ID, state.EventRow
	}
	if !skipSeen && id != "" {
		logged, err := a.b.LoggedID(ep.Source, ep.Name, id)
		if err != nil || logged {
			return logged, err
		}
	}
	if skipSeen {
		// A streamed event is not indexed by its id: capture streams only
		// after a snapshot, so no copy of the event table under way can
		// hold it, and a later copy starts with a refold from the log,
		// which indexes every logged event (refold). Indexing it here
		// would be one more key written for every event.
		id = ""
	}
	le := &f.fl.logged
	*le = state.LoggedEvent{Aggregate: ev.AggregateID, LSN: pos.lsn, Index: uint32(pos.index), Kind: kind, Type: ev.Type, ID: id, Raw: raw()}
	return false, a.b.AppendEvent(ep.Source, ep.Name, le)
}

// reset starts an entity over with its source's new snapshot: from its
// event log when the log holds every event it folded, otherwise from
// nothing, with a new log when it keeps events.
func (f *folds) reset(a *applier, ep *entityPlan, txn *capture.Transaction) error {
	complete := false
	if ep.keeps() {
		var err error
		if complete, err = a.b.EventLogComplete(ep.Source, ep.Name); err != nil {
			return err
		}
	}
	if err := f.forget(a, ep); err != nil {
		return err
	}
	if complete {
		return f.refold(a, ep, txn, true)
	}
	if err := a.b.StartEventLog(ep.Source, ep.Name, ep.keeps()); err != nil {
		return err
	}
	lost := "messages sent before now"
	if ep.table != (capture.Table{}) {
		lost = "events deleted from table " + ep.table.String() + " before now"
	}
	f.logger().Info("entity folded from the start: the state holds no event log to fold it from (first start, lost state directory, or keep: none before), so "+lost+" are not folded",
		"source", ep.Source, "entity", ep.Name, "keep", ep.Stream.Keep)
	return nil
}

// refold folds every aggregate of an entity again from its event log, in
// the order the events were folded first, with the entity's current
// reducer, and applies each resulting entity to the views. With indexIDs
// (a new snapshot follows) it indexes the id of every logged event of the
// event table, so that the events the snapshot then copies are skipped by
// their id when the log holds them (logEvent).
func (f *folds) refold(a *applier, ep *entityPlan, txn *capture.Transaction, indexIDs bool) error {
	started := time.Now()
	f.fl.refolding = true
	defer func() { f.fl.refolding = false }()
	var events, aggregates int
	var last string
	err := a.b.ScanEventLog(ep.Source, ep.Name, func(le *state.LoggedEvent) error {
		if events == 0 || le.Aggregate != last {
			aggregates++
			last = le.Aggregate
		}
		events++
		pos := position{lsn: le.LSN, index: int(le.Index)}
		raw := func() []byte { return le.Raw }
		var ev fold.Event
		var err error
		if le.Kind == state.EventMessage {
			ev, err = fold.MessageEvent(ep.Stream.Columns, le.Raw)
		} else {
			var row capture.Row
			if row, err = decodeRow(le.Raw); err != nil {
				return fmt.Errorf("read logged event at %s of %s: %w", pos, ep.Name, err)
			}
			ev, err = fold.RowEvent(ep.Stream.Columns, row)
		}
		if err != nil {
			f.failed(a, ep, txn, pos, fold.Event{}, raw, err)
			return nil
		}
		if indexIDs && le.Kind == state.EventRow && ev.ID != "" {
			if err := a.b.IndexEventID(ep.Source, ep.Name, ev.ID); err != nil {
				return err
			}
		}
		return f.foldEvent(a, ep, txn, pos, ev, raw, false)
	})
	if err != nil {
		return fmt.Errorf("refold entity %s from its event log: %w", ep.Name, err)
	}
	f.logger().Info("entity folded again from its event log", "source", ep.Source, "entity", ep.Name,
		"events", events, "aggregates", aggregates, "took", time.Since(started).Round(time.Millisecond))
	return nil
}

func (f *folds) logger() *slog.Logger {
	if f.fl.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.fl.log
}

// setLog sets where the fold says what it refolded.
func (f *folds) setLog(log *slog.Logger) { f.fl.log = log }

// Refold asks the engine to fold an entity again from its event log, with
// its current reducer, before it applies the first transaction: a changed
// reducer rebuilds the entity where its source keeps streaming from the
// same slot, so the events published while projector was stopped fold
// after the logged ones, in commit order. Token names what the refold is
// for (the reducer and the index versions it fills): it is recorded with
// the refold, which runs again only for another token.
type Refold struct {
	Source, Entity, Token string
}

// Refolded reports whether the refolds Options.Refolds asked for are done
// and every document they changed is durable in the index. Safe to call
// from any goroutine.
func (e *Engine) Refolded() bool {
	r := e.folds.fl.refolded.Load()
	return r != 0 && uint64(e.ledger.Settled())+1 >= r
}

// refoldRequested folds the entities of Options.Refolds again from their
// event logs, in one group: the folded states, the documents marked
// pending and each entity's refold mark are committed together, so a
// crash before the commit folds them again at the next start from the
// same log and state, and one after it sends the pending documents again
// and finds the refold marked done. An entity whose log is incomplete is
// refused: the daemon takes its source from a fresh snapshot instead.
func (e *Engine) refoldRequested(ctx context.Context) error {
	b := e.store.NewBatch()
	defer b.Close()
	var todo []*entityPlan
	var tokens []string
	for _, r := range e.opts.Refolds {
		i := slices.IndexFunc(e.folds.bySource[r.Source], func(ep *entityPlan) bool { return ep.Name == r.Entity })
		if i < 0 {
			return fmt.Errorf("refold entity %s of source %s: no such entity", r.Entity, r.Source)
		}
		ep := e.folds.bySource[r.Source][i]
		mark, err := b.RefoldMark(ep.Source, ep.Name)
		if err != nil {
			return err
		}
		if mark == r.Token {
			continue // done before a restart
		}
		complete, err := b.EventLogComplete(ep.Source, ep.Name)
		if err != nil {
			return err
		}
		if !ep.keeps() || !complete {
			return fmt.Errorf("refold entity %s of source %s: its event log does not hold every event it folded", ep.Name, ep.Source)
		}
		todo = append(todo, ep)
		tokens = append(tokens, r.Token)
	}
	if len(todo) == 0 {
		e.folds.fl.refolded.Store(uint64(e.ledger.Issued()) + 1)
		return nil
	}
	ticket := e.ledger.NextTicket()
	a := &applier{plan: e.plan, b: b, dirty: map[state.DocRef]struct{}{}, rootCopying: e.rootCopying,
		checkpoints: map[string]capture.Checkpoint{}}
	for i, ep := range todo {
		if err := e.folds.forget(a, ep); err != nil {
			return err
		}
		if err := e.folds.refold(a, ep, &capture.Transaction{Source: ep.Source}, false); err != nil {
			return err
		}
		if err := b.SetRefoldMark(ep.Source, ep.Name, tokens[i]); err != nil {
			return err
		}
	}
	note := groupNote{oldest: map[string]time.Time{}}
	for ref := range a.dirty {
		if err := b.MarkPending(ref, uint64(ticket)); err != nil {
			return err
		}
		note.refs = append(note.refs, ref)
	}
	if err := e.store.Err(); err != nil {
		return err
	}
	if err := b.Commit(); err != nil {
		return fmt.Errorf("commit refolded entities: %w", err)
	}
	for _, ref := range note.refs {
		e.sent[ref] = ticket
	}
	state.SortRefs(note.refs)
	note.deadLetters = a.deadLetters
	if err := e.issue(ticket, nil, note); err != nil {
		return err
	}
	e.folds.fl.refolded.Store(uint64(ticket) + 1)
	return e.send(ctx, ticket, nil, note, false)
}
