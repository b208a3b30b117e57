package daemon

import (
	"fmt"
	"slices"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
	"github.com/projector-dev/projector/transform/state"
)

// An added or reshaped view needs only the tables the state does not
// already hold with every column and join index the view reads. The
// state records, per table, the layout every stored row is known to have
// (state.LayoutRecord): a source's full snapshot or a table's chunked copy
// writes every row with the layout of the views running then, and a
// stream change writes its row with the layout of the views running when
// it is applied, so what every row holds is what the layouts of all the
// runs since the last copy have in common. Tables held are not copied;
// where the view's root table is held, the engine builds the view's
// documents from the rows the state holds (transform's build from the
// state). Tables not held are copied in chunks, root last, as before.

// heldTables is what the state holds of the tables of the running views.
type heldTables struct {
	need    map[state.TableID]*state.TableLayout // what the views read of each table
	records map[state.TableID]state.LayoutRecord // settled: copies found done are held
	// finished holds the tables whose recorded copy was found done at
	// this start: a view whose build was cut short after them need not
	// copy them again.
	finished map[state.TableID]bool
}

// loadHeld reads the state's layout records and settles the copies that
// ended since they were written.
func (p *pipeline) loadHeld() (*heldTables, error) {
	return loadHeld(p.store, p.views)
}

// loadHeld is what store holds of the tables of views.
func loadHeld(store *state.Store, views []*transform.View) (*heldTables, error) {
	need, err := transform.Layouts(views)
	if err != nil {
		return nil, err
	}
	records, err := store.TableLayouts()
	if err != nil {
		return nil, err
	}
	h := &heldTables{need: need, records: records, finished: map[state.TableID]bool{}}
	progress := map[string][]capture.TableProgress{}
	for t, rec := range records {
		cp, err := store.Checkpoint(t.Source)
		if err != nil {
			return nil, fmt.Errorf("read checkpoint of source %q: %w", t.Source, err)
		}
		if !cp.SnapshotDone {
			rec.Held = nil // a snapshot to come replaces every row
		} else if rec.Copying != nil {
			done := rec.BySnapshot
			if !done {
				if _, ok := progress[t.Source]; !ok {
					if progress[t.Source], err = store.ChunkProgress(t.Source); err != nil {
						return nil, err
					}
				}
				done = slices.ContainsFunc(progress[t.Source], func(tp capture.TableProgress) bool { return tp.Table == t.Table && tp.Done })
			}
			if done {
				rec = state.LayoutRecord{Held: rec.Copying}
				h.finished[t] = true
			}
		}
		records[t] = rec
	}
	return h, nil
}

// holds reports whether every stored row of t has what the views need.
func (h *heldTables) holds(t state.TableID) bool {
	return h.records[t].Held.Covers(h.need[t])
}

// split divides the copies a view would need into those of tables the
// state does not hold, and reports whether the view's documents are built
// from the state: when its root table is held. With resumed (a build cut
// short, same shape), a table whose copy ended since the last start stays
// among the copies, recorded done, rather than being held: its copy
// already wrote the view's documents, so the alias can move.
func (h *heldTables) split(copies map[string][]capture.Table, root state.TableID, resumed bool) (missing map[string][]capture.Table, build bool) {
	missing = map[string][]capture.Table{}
	for s, tables := range copies {
		for _, t := range tables {
			id := state.TableID{Source: s, Table: t}
			if h.holds(id) && !(resumed && h.finished[id]) {
				continue
			}
			missing[s] = append(missing[s], t)
		}
	}
	return missing, h.holds(root) && !(resumed && h.finished[root])
}

// recordLayouts records, once the copies are queued, the layouts the
// state's rows will hold while the views run: what they held in common
// with the views' own, with the layout of each copy queued or under way,
// and for a source whose snapshot is to come, that snapshot's. Tables no
// view reads lose their record: their rows are no longer kept current.
func (p *pipeline) recordLayouts(h *heldTables, plans []*indexPlan) error {
	var drop []state.TableID
	for t := range h.records {
		if h.need[t] == nil {
			drop = append(drop, t)
		}
	}
	queued := map[state.TableID]bool{}
	for _, plan := range plans {
		for s, tables := range plan.vi.copies {
			for _, t := range tables {
				queued[state.TableID{Source: s, Table: t}] = true
			}
		}
	}
	set := map[state.TableID]state.LayoutRecord{}
	for t, n := range h.need {
		cp, err := p.store.Checkpoint(t.Source)
		if err != nil {
			return fmt.Errorf("read checkpoint of source %q: %w", t.Source, err)
		}
		rec := h.records[t]
		switch {
		case !cp.SnapshotDone:
			rec = state.LayoutRecord{Copying: n, BySnapshot: true}
		case queued[t] && (rec.Copying == nil || rec.BySnapshot):
			rec = state.LayoutRecord{Held: rec.Held.Intersect(n), Copying: n}
		default:
			rec.Held = rec.Held.Intersect(n)
			if rec.Copying != nil {
				rec.Copying = rec.Copying.Intersect(n) // under way since an earlier start
			}
		}
		set[t] = rec
	}
	return p.store.SetTableLayouts(set, drop)
}

// stateBuilds lists the views whose documents the engine builds from the
// rows the state holds.
func (p *pipeline) stateBuilds() []string {
	var out []string
	for _, vi := range p.indices {
		if vi.build {
			out = append(out, vi.view)
		}
	}
	slices.Sort(out)
	return out
}

// followBuilds lets the rebuilt views built from the state learn from the
// engine when their documents are durable.
func (p *pipeline) followBuilds(engine *transform.Engine) {
	for _, vi := range p.indices {
		if vi.build {
			view := vi.view
			vi.built = func() bool { return engine.Built(view) }
		}
	}
}

// ended lists those of copies whose copy ended since the last start.
func (h *heldTables) ended(copies map[string][]capture.Table) map[string][]capture.Table {
	out := map[string][]capture.Table{}
	for s, tables := range copies {
		for _, t := range tables {
			if h.finished[state.TableID{Source: s, Table: t}] {
				out[s] = append(out[s], t)
			}
		}
	}
	return out
}

// resumeBuild goes on with the build from the state of an added view that
// a stop cut short: an added view's alias points at its first index at
// once, so after a restart it is planned like any other view, and only
// the build's recorded progress says its documents are not all written.
func (p *pipeline) resumeBuild(plan *indexPlan) error {
	vi := plan.vi
	progress, ok, err := p.store.BuildProgress(vi.view)
	if err != nil || !ok || progress.Done || progress.Target != sink.IndexName(vi.Alias, max(plan.version.Current, 1)) {
		return err
	}
	vi.copies, vi.build = map[string][]capture.Table{}, true
	return nil
}
