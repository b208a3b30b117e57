package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/state"
)

// A view added to a running source, or whose shape changed, is built from
// chunked copies of its own tables (capture's copy between watermarks,
// the one the admin API's snapshot uses) rather than from a fresh
// snapshot of its sources: the source keeps streaming, the other views of
// the source keep their index version, and only the view's tables are
// read again. Its root table is copied last, so that the documents built
// from its rows find the rows they join already in the state. The copies
// are queued in the state before the streams start, where capture keeps
// their progress, so a restart continues them.

// copyRefusal says why the views of source cannot be built from chunked
// copies of their tables alone, or "" when they can: the copies need
// logical decoding messages for their watermarks (PostgreSQL 14 and
// later), and published events must be folded in their order, which a copy
// of their table would break by folding them again (a view that reads
// events is planned by planViewBuild instead).
func copyRefusal(ctx context.Context, cfg *config.Config, source string) string {
	src, ok := cfg.Sources[source]
	if !ok {
		return "the source is not configured"
	}
	if len(src.Events) > 0 || len(eventTables(src, source)) > 0 {
		return "the source publishes events, which are folded in their order: copying their tables would fold them again"
	}
	return serverRefusal(ctx, cfg, source)
}

// serverRefusal says why source's server cannot copy single tables while
// it streams, or "" when it can.
func serverRefusal(ctx context.Context, cfg *config.Config, source string) string {
	src := cfg.Sources[source]
	ctx, cancel := context.WithTimeout(ctx, reloadCheckTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, src.DSN)
	if err != nil {
		return fmt.Sprintf("its server version could not be read (connect to %s: %v)", src.RedactedDSN(), err)
	}
	defer conn.Close(context.Background())
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return fmt.Sprintf("its server version could not be read: %v", err)
	}
	if version < 140000 {
		return "PostgreSQL before 14 cannot send the logical decoding messages a chunked copy needs"
	}
	return ""
}

// copyRefusals answers copyRefusal once per source.
type copyRefusals struct {
	cfg *config.Config
	why map[string]string
}

func (c *copyRefusals) of(ctx context.Context, source string) string {
	if c.why == nil {
		c.why = map[string]string{}
	}
	why, ok := c.why[source]
	if !ok {
		why = copyRefusal(ctx, c.cfg, source)
		c.why[source] = why
	}
	return why
}

// copyOrder lists the tables of view cv in the order a rebuild copies
// (or folds) them: the root last, so that the documents built from the
// root's rows find the rows they join already in the state.
func copyOrder(cv *config.View) []config.TableRef {
	tables := cv.Tables() // the root first
	return append(slices.Clone(tables[1:]), tables[0])
}

// viewCopies lists, by source, the tables of view cv to copy to build its
// documents, each source's root table last. ok is false when a table of
// the view is an entity of messages, which has no rows to copy.
func viewCopies(cv *config.View) (copies map[string][]capture.Table, ok bool) {
	copies = map[string][]capture.Table{}
	for _, t := range copyOrder(cv) {
		if t.IsEntity() {
			return nil, false
		}
		copies[t.Source] = append(copies[t.Source], capture.Table{Schema: t.Schema, Name: t.Name})
	}
	return copies, true
}

// planCopies decides which views are built from chunked copies of their
// tables: a view without an index (added) or with a new shape (changed),
// or whose rebuild into copies was cut short, when every source it reads
// finished its snapshot and can copy single tables while streaming. A
// rebuild the operator asked for (force) takes fresh snapshots, which also
// drop the rows deleted since from the state.
func (p *pipeline) planCopies(ctx context.Context, cfg *config.Config, plans []*indexPlan, force []string, log *slog.Logger) error {
	refusals := &copyRefusals{cfg: cfg}
	held, err := p.loadHeld()
	if err != nil {
		return err
	}
	p.held = held
	for _, plan := range plans {
		vi := plan.vi
		switch {
		case slices.Contains(force, vi.view):
			continue
		case plan.version.Current == 0:
		case plan.version.Reshaped || plan.version.Unfinished:
		default:
			if err := p.resumeBuild(plan); err != nil {
				return err
			}
			continue
		}
		done := true
		for _, s := range vi.sources {
			cp, err := p.store.Checkpoint(s)
			if err != nil {
				return fmt.Errorf("read checkpoint of source %q: %w", s, err)
			}
			done = done && cp.SnapshotDone
		}
		if !done {
			continue // a snapshot is to come, and covers the view
		}
		cv := &cfg.Views[slices.IndexFunc(cfg.Views, func(v config.View) bool { return v.Name == vi.view })]
		resumed := plan.version.Unfinished
		vb, why, err := planViewBuild(ctx, p.store, cfg, cv, held, refusals, resumed)
		if err != nil {
			return err
		}
		if why != "" {
			log.Info("the view cannot be built from the rows the state holds, its entities folded again from their event logs and copies of its tables while its sources stream; they are taken from a fresh snapshot, and their other views rebuilt",
				"view", vi.view, "why", why)
			continue
		}
		vi.copies, vi.refolds, vi.build = vb.copies, vb.refolds, vb.build
		if resumed {
			vi.ended = held.ended(vb.copies)
		}
		if len(vi.refolds) > 0 {
			log.Info("the view is built from its entities folded again from their event logs and chunked copies of the tables the state does not hold; its sources keep streaming from their slots",
				"view", vi.view, "entities", fmt.Sprint(vi.refolds), "from_state", vi.build, "copied", fmt.Sprint(vi.copies))
			continue
		}
		log.Info("building the view from the rows the state holds where it holds them, and from chunked copies of the other tables",
			"view", vi.view, "from_state", vi.build, "copied", fmt.Sprint(vi.copies))
	}
	return nil
}

// queueCopies queues the chunked copies of every view built from them,
// in the state, before the streams start. A rebuild cut short continues
// the copies still under way rather than starting them over.
func queueCopies(store *state.Store, plans []*indexPlan, log *slog.Logger) error {
	bySource := map[string][]capture.Table{}
	var order []string
	fresh := map[string][]capture.Table{} // the copies not ended for their view
	for _, plan := range plans {
		for s, tables := range plan.vi.copies {
			for _, t := range tables {
				if !slices.Contains(plan.vi.ended[s], t) {
					fresh[s] = append(fresh[s], t)
				}
			}
			if _, seen := bySource[s]; !seen {
				order = append(order, s)
			}
			for _, t := range tables {
				if !slices.Contains(bySource[s], t) {
					bySource[s] = append(bySource[s], t)
				}
			}
		}
	}
	slices.Sort(order)
	for _, s := range order {
		progress, err := store.ChunkProgress(s)
		if err != nil {
			return err
		}
		var queued []capture.Table
		for _, t := range bySource[s] {
			i := slices.IndexFunc(progress, func(p capture.TableProgress) bool { return p.Table == t })
			if i >= 0 && !progress[i].Done {
				continue // under way: it goes on from its last chunk
			}
			if i >= 0 && !slices.Contains(fresh[s], t) {
				continue // ended before a restart cut the view's build short
			}
			if i >= 0 {
				progress = slices.Delete(progress, i, i+1)
			}
			progress = append(progress, capture.TableProgress{Table: t})
			queued = append(queued, t)
		}
		if err := store.SetChunkProgress(s, progress); err != nil {
			return err
		}
		if len(queued) > 0 {
			log.Info("copying tables in chunks while the source streams, for the views built from them",
				"source", s, "tables", fmt.Sprint(queued))
		}
	}
	return nil
}

// copied reports whether the chunked copies of tables of source are done:
// capture records a table done once its last chunk is durable downstream.
func copied(store *state.Store, source string, tables []capture.Table) (bool, error) {
	progress, err := store.ChunkProgress(source)
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		i := slices.IndexFunc(progress, func(p capture.TableProgress) bool { return p.Table == t })
		if i < 0 || !progress[i].Done {
			return false, nil
		}
	}
	return true, nil
}

// copied is copied for the running pipeline's state.
func (p *pipeline) copied(source string, tables []capture.Table) (bool, error) {
	return copied(p.store, source, tables)
}

// spreadCopies is spreadRebuilds for plans some of which are built from
// chunked copies: a view whose source another view's rebuild takes from a
// fresh snapshot is rebuilt from that snapshot too, rather than from
// copies the snapshot would replace. It returns the sources to reset.
func spreadCopies(plans []*indexPlan, log *slog.Logger) map[string]bool {
	for {
		reset := spreadRebuilds(plans)
		dropped := false
		for _, plan := range plans {
			vi := plan.vi
			if vi.copies == nil || !slices.ContainsFunc(vi.sources, func(s string) bool { return reset[s] }) {
				continue
			}
			log.Info("a source of the view is taken from a fresh snapshot for another view; the view is built from it rather than from copies of its tables",
				"view", vi.view)
			vi.copies, vi.build = nil, false
			dropped = true
		}
		if !dropped {
			return reset
		}
	}
}
