package daemon

import (
	"context"
	"fmt"
	"slices"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/state"
)

// viewBuild is how a view to be built or rebuilt while its sources keep
// their slots gets its documents: its entities folded again from their
// event logs (refold.go), the rows the state holds (statebuild.go), and
// chunked copies of the other tables (reload_copy.go).
type viewBuild struct {
	copies  map[string][]capture.Table
	refolds []config.TableRef
	build   bool // the engine builds the documents from the state's rows
}

// planViewBuild decides how view cv, whose sources all finished their
// snapshots, is built without taking a source again from a fresh
// snapshot, or says in why what prevents it. It is the one decision
// behind both the start (planCopies) and a reload, which resets the
// sources of an added view that this refuses (prepareReload) and creates
// the index versions the start will write to (createIndicesAhead).
// resumed is set for a rebuild cut short with the same shape.
func planViewBuild(ctx context.Context, store *state.Store, cfg *config.Config, cv *config.View,
	held *heldTables, refusals *copyRefusals, resumed bool) (vb viewBuild, why string, err error) {
	root := cv.Tables()[0]
	rootID := state.TableID{Source: root.Source, Table: capture.Table{Schema: root.Schema, Name: root.Name}}
	if readsEvents(cfg, cv) {
		copies, entities, why, err := refoldCopies(store, cfg, cv)
		if err != nil || why != "" {
			return viewBuild{}, why, err
		}
		copies, build := held.split(copies, rootID, resumed)
		for _, s := range viewSources(cv) {
			if len(copies[s]) == 0 {
				continue // nothing of it is copied
			}
			// A source with events copies its plain tables: only its
			// server can refuse.
			if why := serverRefusal(ctx, cfg, s); why != "" {
				return viewBuild{}, fmt.Sprintf("source %s: %s", s, why), nil
			}
		}
		// An entity's documents come from its refold.
		return viewBuild{copies: copies, refolds: entities, build: build && !root.IsEntity()}, "", nil
	}
	copies, ok := viewCopies(cv)
	if !ok {
		return viewBuild{}, "the view reads messages, which cannot be copied again", nil
	}
	copies, build := held.split(copies, rootID, resumed)
	for _, s := range viewSources(cv) {
		if len(copies[s]) == 0 {
			continue
		}
		if why := refusals.of(ctx, s); why != "" {
			return viewBuild{}, fmt.Sprintf("source %s: %s", s, why), nil
		}
	}
	return viewBuild{copies: copies, build: build}, "", nil
}

// snapshotsDone reports whether every one of sources finished its
// snapshot in store.
func snapshotsDone(store *state.Store, sources []string) (bool, error) {
	for _, s := range sources {
		cp, err := store.Checkpoint(s)
		if err != nil {
			return false, fmt.Errorf("read checkpoint of source %q: %w", s, err)
		}
		if !cp.SnapshotDone {
			return false, nil
		}
	}
	return true, nil
}

// reloadResets says which running sources the views r adds need taken
// again from a fresh snapshot, and why: those of an added view the start
// cannot build otherwise (planViewBuild). Where a source of the view has
// yet to finish its snapshot, the sources done that cannot copy single
// tables are taken again, as the start will not plan the view's build.
func reloadResets(ctx context.Context, store *state.Store, r *reloadRequested) (map[string]string, error) {
	reset := map[string]string{}
	var held *heldTables
	refusals := r.refusals
	if refusals == nil {
		refusals = &copyRefusals{cfg: r.cfg}
	}
	for _, name := range r.diff.addedViews {
		i := slices.IndexFunc(r.cfg.Views, func(v config.View) bool { return v.Name == name })
		if i < 0 {
			continue
		}
		cv := &r.cfg.Views[i]
		var done []string
		for _, s := range viewSources(cv) {
			if ok, err := snapshotsDone(store, []string{s}); err != nil {
				return nil, err
			} else if ok {
				done = append(done, s)
			}
		}
		if len(done) == 0 {
			continue // their snapshots are to come, and cover the view
		}
		if len(done) == len(viewSources(cv)) {
			if held == nil {
				var err error
				if held, err = loadHeld(store, r.views); err != nil {
					return nil, err
				}
			}
			_, why, err := planViewBuild(ctx, store, r.cfg, cv, held, refusals, false)
			if err != nil {
				return nil, err
			}
			if why == "" {
				continue // built from refolds, the state and copies
			}
			// Take again the sources that cannot copy, or, when the
			// reason is not one source's, every source of the view.
			marked := false
			for _, s := range done {
				if refused := refusals.of(ctx, s); refused != "" {
					reset[s], marked = why, true
				}
			}
			if !marked {
				for _, s := range done {
					reset[s] = why
				}
			}
			continue
		}
		for _, s := range done {
			if why := refusals.of(ctx, s); why != "" {
				reset[s] = why
			}
		}
	}
	return reset, nil
}
