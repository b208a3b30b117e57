package daemon

import (
	"context"
	"fmt"
	"slices"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/sink"
)

// createIndicesAhead creates, while the running pipeline keeps streaming,
// the index versions a reloaded configuration will write to: the first
// version of an added view, and the next version of every view the next
// run rebuilds (a changed shape, or a source taken again from a fresh
// snapshot for an added view). Creating an index takes the search engine
// up to seconds; done here, the restart that applies the reload only finds
// them, and the other views' pause stays short. It decides as
// prepareIndices will, from the same facts; an index created for nothing
// (the reload fails after this) only makes the next start rebuild that
// view.
func (proc *process) createIndicesAhead(ctx context.Context, r *reloadRequested) error {
	cur, views, schema, d := r.cfg, r.views, r.schema, r.diff
	// A search engine that does not answer leaves the indices to the
	// restart rather than hold the reload.
	ctx, cancel := context.WithTimeout(ctx, reloadCheckTimeout)
	defer cancel()
	client, err := connectSink(ctx, cur.Sink, proc.log)
	if err != nil {
		return err
	}
	// The sources of added views that the running state already holds are
	// taken again from a fresh snapshot when they cannot copy single
	// tables (see prepareReload); a view rebuilt over sources that can is
	// built from copies of its tables, and spreads no rebuild (see
	// planCopies).
	refused := func(s string) bool { return r.refusals == nil || r.refusals.of(ctx, s) != "" }
	reset := map[string]bool{}
	for _, s := range snapshotSources(cur, d.addedViews) {
		if slices.Contains(proc.cfg.SourceNames, s) && refused(s) {
			reset[s] = true
		}
	}
	plans := make([]*indexPlan, len(views))
	mappings := make([]map[string]any, len(views))
	for i, v := range views {
		cv := &cur.Views[slices.IndexFunc(cur.Views, func(cv config.View) bool { return cv.Name == v.Name })]
		alias := cur.Sink.IndexPrefix + v.Name
		mapping, fingerprint := sink.ViewMapping(viewShape(v, schema), client.Flavour)
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
		if (version.Reshaped || version.Unfinished) && !slices.ContainsFunc(plan.vi.sources, refused) {
			plan.vi.copies = map[string][]capture.Table{}
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
