package transform

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/projector-dev/projector/transform/ledger"
	"github.com/projector-dev/projector/transform/state"
)

// Layouts returns, for every table the views read, what the store keeps of
// its rows while it runs these views: the columns and join indexes the
// views need. A view added to a running daemon can be built from the rows
// the store already holds of a table when they were stored with at least
// this (state.TableLayout.Covers); otherwise the table is copied again.
func Layouts(views []*View) (map[state.TableID]*state.TableLayout, error) {
	p, err := newPlan(views)
	if err != nil {
		return nil, err
	}
	out := make(map[state.TableID]*state.TableLayout, len(p.tables))
	for id, tp := range p.tables {
		l := &state.TableLayout{Key: slices.Clone(tp.key), AllColumns: tp.allColumns, Columns: slices.Clone(tp.sorted)}
		for _, ix := range tp.indexes {
			l.Indexes = append(l.Indexes, slices.Clone(ix))
		}
		out[id] = l
	}
	return out, nil
}

// A view named in Options.Builds is built from the rows the store already
// holds: the engine walks its root table's rows in key order, a page at a
// time between groups of transactions, and sends each page's documents to
// the view's index like the documents of a group. A stream change applied
// later re-derives its documents with a later version, so a document built
// from an older read never overtakes it. Each page's documents are marked
// pending before the page's progress is recorded, so a restart sends them
// again and goes on from the next page. The build is durable once its last
// page settles (Engine.Built).

// buildJob is the build of one view from the state.
type buildJob struct {
	view     *View
	progress state.BuildProgress
	// doneAt is the ticket after whose settling every document of the
	// build is durable; math.MaxUint64 until the last page is sent.
	doneAt atomic.Uint64
	// resumedDone is set for a build found done at start: its last pages
	// may be among the documents pending at start, sent again first.
	resumedDone bool
}

// builds holds the engine's builds from the state.
type builds struct {
	jobs   []*buildJob
	byName map[string]*buildJob
	// now is a closed channel: ready at once in a select.
	now chan struct{}
}

// newBuilds loads the progress of the builds of views; a build recorded
// for another index starts over.
func newBuilds(store *state.Store, p *plan, views []string, target func(string) string) (*builds, error) {
	b := &builds{byName: map[string]*buildJob{}, now: make(chan struct{})}
	close(b.now)
	for _, name := range views {
		v := p.byName[name]
		if v == nil {
			return nil, fmt.Errorf("build view %q from the state: no such view", name)
		}
		progress, ok, err := store.BuildProgress(name)
		if err != nil {
			return nil, err
		}
		if !ok || progress.Target != target(name) {
			progress = state.BuildProgress{Target: target(name)}
			if err := store.SetBuildProgress(name, progress); err != nil {
				return nil, err
			}
		}
		job := &buildJob{view: v, progress: progress, resumedDone: progress.Done}
		job.doneAt.Store(math.MaxUint64)
		b.jobs = append(b.jobs, job)
		b.byName[name] = job
	}
	return b, nil
}

// started is called once the documents pending at start were sent again,
// the last of them under ticket resent.
func (b *builds) started(resent ledger.Ticket) {
	for _, job := range b.jobs {
		if job.resumedDone {
			job.doneAt.Store(uint64(resent))
		}
	}
}

// ready returns a channel that is ready when a build has pages left, and
// nil (never ready) otherwise: in Run's select a page competes fairly with
// the stream's next transaction.
func (b *builds) ready() <-chan struct{} {
	if b.next() == nil {
		return nil
	}
	return b.now
}

func (b *builds) next() *buildJob {
	for _, job := range b.jobs {
		if !job.progress.Done {
			return job
		}
	}
	return nil
}

// Built reports whether every document of view's build from the state is
// durable in its index. Safe to call from any goroutine.
func (e *Engine) Built(view string) bool {
	job := e.builds.byName[view]
	return job != nil && uint64(e.ledger.Settled()) >= job.doneAt.Load()
}

// buildPage builds and sends the next page of documents of the first
// unfinished build.
func (e *Engine) buildPage(ctx context.Context) error {
	job := e.builds.next()
	if job == nil {
		return nil
	}
	rd := e.store.Snapshot(state.ReadUncached)
	pks, more, err := rd.RowKeys(job.view.Root.id(), job.progress.After, pageDocs)
	if cerr := rd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("build view %q from the state: read %s: %w", job.view.Name, job.view.Root.Table, err)
	}
	if job.progress.After == "" {
		e.log.Info("building the view's documents from the rows the state holds", "view", job.view.Name, "index", job.progress.Target)
	}
	ticket := e.ledger.NextTicket()
	refs := make([]state.DocRef, len(pks))
	marks := e.store.NewPendingMarks()
	for i, pk := range pks {
		refs[i] = state.DocRef{View: job.view.Name, ID: pk}
		if err := marks.Mark(refs[i], uint64(ticket)); err != nil {
			marks.Close()
			return err
		}
	}
	if err := marks.Commit(); err != nil {
		return fmt.Errorf("mark documents built from the state pending: %w", err)
	}
	for _, ref := range refs {
		e.sent[ref] = ticket
	}
	note := groupNote{refs: refs}
	if err := e.issue(ticket, nil, note); err != nil {
		return err
	}
	if err := e.send(ctx, ticket, nil, note, false); err != nil {
		return err
	}
	progress := job.progress
	if len(pks) > 0 {
		progress.After = pks[len(pks)-1]
	}
	progress.Done = !more
	if err := e.store.SetBuildProgress(job.view.Name, progress); err != nil {
		return err
	}
	job.progress = progress
	if progress.Done {
		job.doneAt.Store(uint64(ticket))
		e.log.Info("built the view's documents from the rows the state holds; durable once the index acknowledges them",
			"view", job.view.Name, "index", progress.Target)
	}
	return nil
}
