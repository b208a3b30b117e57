package daemon

import (
	"context"
	"fmt"
	"slices"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
	"github.com/projector-dev/projector/transform/state"
)

// createIndicesAhead creates, while the running pipeline keeps streaming,
// the index versions a reloaded configuration will write to: the first
// version of an added view, and the next version of every view the next
// run rebuilds (a changed shape, or a source taken again from a fresh
// snapshot for an added view). Creating an index takes the search engine
// up to seconds; done here, the restart that applies the reload only finds
// them, and the other views' pause stays short. It decides as
// prepareReload and prepareIndices will, from the same facts: the running
// state (store) and planViewBuild; an index created for nothing (the
// reload fails after this) only makes the next start rebuild that view.
func (proc *process) createIndicesAhead(ctx context.Context, store *state.Store, r *reloadRequested) error {
	cur, views, schema := r.cfg, r.views, r.schema
	// A search engine that does not answer leaves the indices to the
	// restart rather than hold the reload.
	ctx, cancel := context.WithTimeout(ctx, reloadCheckTimeout)
	defer cancel()
	client, err := connectSink(ctx, cur.Sink, proc.log)
	if err != nil {
		return err
	}
	// The sources of added views that the restart takes again from a
	// fresh snapshot (see prepareReload), and the changed views it builds
	// while their sources stream, and so spread no rebuild (planCopies).
	reset := map[string]bool{}
	var held *heldTables
	if store != nil {
		resets, err := reloadResets(ctx, store, r)
		if err != nil {
			return err
		}
		for s := range resets {
			reset[s] = slices.Contains(proc.cfg.SourceNames, s)
		}
		if held, err = loadHeld(store, views); err != nil {
			return err
		}
	}
	buildable := func(cv *config.View, resumed bool) (bool, error) {
		if held == nil {
			return false, nil
		}
		done, err := snapshotsDone(store, viewSources(cv))
		if err != nil || !done {
			return false, err
		}
		refusals := r.refusals
		if refusals == nil {
			refusals = &copyRefusals{cfg: cur}
		}
		_, why, err := planViewBuild(ctx, store, cur, cv, held, refusals, resumed)
		return why == "", err
	}
	plans := make([]*indexPlan, len(views))
	mappings := make([]map[string]any, len(views))
	for i, v := range views {
		cv := &cur.Views[slices.IndexFunc(cur.Views, func(cv config.View) bool { return cv.Name == v.Name })]
		alias := cur.Sink.IndexPrefix + v.Name
		shape := viewShape(v, schema)
		shape.Reducers = transform.ReducerDigest(cur, cv) // as planIndex: a changed reducer rebuilds
		mapping, fingerprint := sink.ViewMapping(shape, client.Flavour)
		settings := sink.IndexSettings{Shards: cv.Settings.Shards, Replicas: cv.Settings.Replicas}
		if cv.Settings.RefreshInterval != 0 {
			settings.RefreshInterval = cv.Settings.RefreshInterval.String()
		}
		plan := &indexPlan{vi: &viewIndex{view: v.Name, IndexVersion: sink.IndexVersion{Alias: alias}}}
		for _, t := range cv.Tables() {
			if !slices.Contains(plan.vi.sources, t.Source) {
				plan.vi.sources = append(plan.vi.sources, t.Source)
			}
		}
		version, err := client.PlanVersion(ctx, alias, mapping, fingerprint, settings)
		if err != nil {
			return err
		}
		plan.version, mappings[i] = version, mapping
		plan.rebuild = version.Reshaped || version.Unfinished || slices.ContainsFunc(plan.vi.sources, func(s string) bool { return reset[s] })
		if version.Reshaped || version.Unfinished {
			ok, err := buildable(cv, version.Unfinished)
			if err != nil {
				return err
			}
			if ok {
				plan.vi.copies = map[string][]capture.Table{}
			}
		}
		plans[i] = plan
	}
	spreadRebuilds(plans)
	for i, plan := range plans {
		next := plan.version.Current + 1
		switch {
		case plan.version.Current == 0:
			next = 1
		case !plan.rebuild:
			continue
		}
		if err := client.CreateIndexVersion(ctx, plan.vi.Alias, next, mappings[i], plan.version.Settings); err != nil {
			return fmt.Errorf("view %q: %w", plan.vi.view, err)
		}
		if err := client.EnsureDeadLetterIndex(ctx, plan.vi.Alias, plan.version.Settings); err != nil {
			return fmt.Errorf("view %q: %w", plan.vi.view, err)
		}
	}
	return nil
}
