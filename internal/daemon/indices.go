package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
)

// viewIndex is where a view's documents go (see sink.IndexVersion), and
// the sources whose snapshots fill a new version.
type viewIndex struct {
	view string
	sink.IndexVersion
	sources []string
	// copies, when set, are the tables by source whose chunked copies
	// fill the view's index instead of fresh snapshots of its sources
	// (see planCopies).
	copies map[string][]capture.Table
	// refolds, when set, are the entities folded again from their event
	// logs to fill the view's index, beside its copies (see planViewBuild);
	// refolded reports when that is done and durable.
	refolds  []config.TableRef
	refolded func() bool
	// ended are those of the copies that ended before this start, for
	// this index version: recorded done, they are not queued again.
	ended map[string][]capture.Table
	// build is set when the engine builds the view's documents from the
	// rows the state holds (see heldTables); built then reports whether
	// they are durable.
	build bool
	built func() bool
}

// prepareIndices creates each view's first index, or, when the view's
// shape changed since its index was created, the next version, which is
// then built from fresh snapshots of the view's sources, or from chunked
// copies of its tables (see planCopies), while queries keep using the old
// one.
func (p *pipeline) prepareIndices(ctx context.Context, cfg *config.Config, rebuild []string, log *slog.Logger) error {
	p.indices = map[string]*viewIndex{}
	plans := make([]*indexPlan, len(p.views))
	// Each view's index is looked up and opened on its own: with many
	// views, the search engine's round trips would otherwise add up to
	// the time every view waits at start and after a reload. A search
	// engine lost since it was connected is waited for, as at start.
	_, err := retry(ctx, retryPolicy{what: "look up the views' indices", classify: sinkErrorClass, log: log}, func() (struct{}, error) {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(indexRequests)
		for i, v := range p.views {
			g.Go(func() error {
				plan, err := p.planIndex(gctx, cfg, &cfg.Views[i], v, slices.Contains(rebuild, v.Name))
				plans[i] = plan
				return err
			})
		}
		return struct{}{}, g.Wait()
	})
	if err != nil {
		return err
	}
	if err := p.planCopies(ctx, cfg, plans, rebuild, log); err != nil {
		return err
	}
	reset := spreadCopies(plans, log)
	_, err = retry(ctx, retryPolicy{what: "create the views' indices", classify: sinkErrorClass, log: log}, func() (struct{}, error) {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(indexRequests)
		for _, plan := range plans {
			g.Go(func() error { return p.openIndex(gctx, plan, log) })
		}
		return struct{}{}, g.Wait()
	})
	if err != nil {
		return err
	}
	for _, plan := range plans {
		if plan.rebuild {
			p.rebuilds = append(p.rebuilds, plan.vi)
		}
		p.indices[plan.vi.view] = plan.vi
	}
	for _, s := range cfg.SourceNames {
		if reset[s] {
			if err := p.store.ResetSource(s); err != nil {
				return err
			}
		}
	}
	if err := queueCopies(p.store, plans, log); err != nil {
		return err
	}
	return p.recordLayouts(p.held, plans)
}

// indexRequests bounds the views whose index is looked up or opened at
// once, so that many views do not flood the search engine.
const indexRequests = 8

// spreadRebuilds marks for rebuilding every view with an index that uses
// a source another view's rebuild takes again from a fresh snapshot, and
// returns those sources: a fresh snapshot rewrites every document the
// source contributes to, so every view that uses it is rebuilt beside its
// current index rather than changing under its readers.
func spreadRebuilds(plans []*indexPlan) (reset map[string]bool) {
	reset = map[string]bool{}
	for _, plan := range plans {
		if plan.rebuild && plan.vi.copies == nil {
			for _, s := range plan.vi.sources {
				reset[s] = true
			}
		}
	}
	for _, plan := range plans {
		if plan.version.Current == 0 || plan.rebuild {
			continue
		}
		for _, s := range plan.vi.sources {
			if reset[s] {
				plan.rebuild = true
			}
		}
		if plan.rebuild {
			for _, s := range plan.vi.sources {
				reset[s] = true
			}
		}
	}
	return reset
}

// indexPlan is what start-up decided about one view's index.
type indexPlan struct {
	vi      *viewIndex
	version sink.VersionPlan
	rebuild bool // build version Current+1 and move the alias when done
}

// planIndex decides whether view v keeps its index or needs the next
// version: its shape changed, a rebuild was asked for (force), one was cut
// short, or the local state lacks one of its sources.
func (p *pipeline) planIndex(ctx context.Context, cfg *config.Config, cv *config.View, v *transform.View,
	force bool) (*indexPlan, error) {
	alias := cfg.Sink.IndexPrefix + v.Name
	shape := viewShape(v, p.schema)
	shape.Reducers = transform.ReducerDigest(cfg, cv)
	mapping, fingerprint := sink.ViewMapping(shape, p.client.Flavour)
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
	version, err := p.client.PlanVersion(ctx, alias, mapping, fingerprint, settings)
	if err != nil {
		return nil, err
	}
	plan.version = version
	if version.Current == 0 {
		return plan, nil
	}
	stateless, err := p.stateless(plan.vi.sources)
	if err != nil {
		return nil, err
	}
	plan.rebuild = force || version.Unfinished || stateless || version.Reshaped
	return plan, nil
}

// openIndex creates the index a plan writes to.
func (p *pipeline) openIndex(ctx context.Context, plan *indexPlan, log *slog.Logger) error {
	vi := plan.vi
	v, err := p.client.OpenVersion(ctx, plan.version, plan.rebuild)
	if err != nil {
		return fmt.Errorf("view %q: %w", vi.view, err)
	}
	vi.IndexVersion = v
	if !plan.rebuild {
		log.Info("view index ready", "view", vi.view, "alias", vi.Alias, "index", vi.Target)
		return nil
	}
	if vi.copies != nil {
		log.Info("building a new index version of the view from chunked copies of its tables while its sources stream; queries keep using the current one until it is complete",
			"view", vi.view, "alias", vi.Alias, "from", vi.From, "to", vi.Target, "tables", fmt.Sprint(vi.copies))
		return nil
	}
	log.Info("building a new index version of the view from fresh snapshots; queries keep using the current one until it is complete",
		"view", vi.view, "alias", vi.Alias, "from", vi.From, "to", vi.Target, "sources", vi.sources)
	return nil
}

// watchRebuilds moves each rebuilt view's alias to its new index once the
// new index holds everything: every source of the view has finished its
// snapshot and all it applied is acknowledged by the index.
func (p *pipeline) watchRebuilds(ctx context.Context, streams map[string]*capture.Stream,
	checkpoint func(string) (capture.Checkpoint, error), log *slog.Logger) error {
	pending := p.rebuilds
	p.setRebuilding(pending)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	if p.rebuilt != nil {
		defer func() {
			if len(pending) == 0 {
				p.rebuilt()
			}
		}()
	}
	// snapshotEnd is, per source, the applied position when its snapshot
	// was first seen complete: once that is durable in the index, so is
	// every row of the snapshot. Waiting for the latest applied position
	// instead could wait forever under constant writes.
	snapshotEnd := map[string]capture.LSN{}
	// retryAt holds back, per view, the next attempt to move an alias
	// after the search engine failed it for a reason that passes.
	retryAt := map[string]time.Time{}
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var still []*viewIndex
		for _, vi := range pending {
			if time.Now().Before(retryAt[vi.view]) {
				still = append(still, vi)
				continue
			}
			done, err := rebuilt(vi, confirmedOf(streams), checkpoint, snapshotEnd, p.copied)
			if err != nil {
				return err
			}
			if !done {
				still = append(still, vi)
				continue
			}
			if err := p.fence.guard(); err != nil {
				if lost := p.fence.err(); lost != nil {
					return fmt.Errorf("view %q: not moving alias %s: %w", vi.view, vi.Alias, lost)
				}
				// A lock connection is being re-established: the alias
				// moves once the lock is proven held again.
				still = append(still, vi)
				continue
			}
			if err := p.client.MoveAlias(ctx, vi.IndexVersion); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if sinkErrorClass(err) != capture.Transient {
					return fmt.Errorf("view %q: %w", vi.view, err)
				}
				// A search engine down or too busy to answer in time
				// (the alias moves after a refresh of the new index)
				// keeps the view on its current index until it answers.
				log.Warn("could not move the alias of a rebuilt view; retrying", "view", vi.view, "alias", vi.Alias,
					"error", err, "retry_in", aliasRetry)
				retryAt[vi.view] = time.Now().Add(aliasRetry)
				still = append(still, vi)
				continue
			}
			log.Info("view rebuilt; alias moved to the new index and the old index deleted",
				"view", vi.view, "alias", vi.Alias, "index", vi.Target, "deleted", vi.From)
		}
		pending = still
		p.setRebuilding(pending)
	}
	return nil
}

// aliasRetry is how long a rebuilt view waits to move its alias again
// after the search engine failed the move for a reason that passes.
const aliasRetry = 5 * time.Second

// confirmedOf is what each source's stream confirmed as durable.
func confirmedOf(streams map[string]*capture.Stream) func(source string) capture.LSN {
	return func(source string) capture.LSN { return streams[source].Confirmed() }
}

// rebuilt reports whether a view's new index holds everything: every
// source of the view finished its snapshot, and what was applied when it
// was first seen finished (kept in snapshotEnd) is confirmed durable. A
// view built from chunked copies is complete once every copy is done,
// which capture records only once the copy's last chunk is durable.
func rebuilt(vi *viewIndex, confirmed func(source string) capture.LSN, checkpoint func(string) (capture.Checkpoint, error),
	snapshotEnd map[string]capture.LSN, copied func(source string, tables []capture.Table) (bool, error)) (bool, error) {
	if vi.copies != nil {
		if len(vi.refolds) > 0 && (vi.refolded == nil || !vi.refolded()) {
			return false, nil
		}
		for _, s := range vi.sources {
			done, err := copied(s, vi.copies[s])
			if err != nil || !done {
				return false, err
			}
		}
		return vi.built == nil || vi.built(), nil
	}
	for _, s := range vi.sources {
		end, seen := snapshotEnd[s]
		if !seen {
			cp, err := checkpoint(s)
			if err != nil {
				return false, err
			}
			if !cp.SnapshotDone {
				return false, nil
			}
			end = cp.Applied
			snapshotEnd[s] = end
		}
		if confirmed(s) < end {
			return false, nil
		}
	}
	return true, nil
}

// setRebuilding records which views are still being rebuilt, for
// readiness: until its alias moves, a view serves its old index.
func (p *pipeline) setRebuilding(pending []*viewIndex) {
	views := make([]string, len(pending))
	for i, vi := range pending {
		views[i] = vi.view + " (into " + vi.Target + ")"
	}
	p.rebuilding.Store(&views)
}

// rebuildingViews lists the views whose new index is not serving yet.
func (p *pipeline) rebuildingViews() []string {
	if v := p.rebuilding.Load(); v != nil {
		return *v
	}
	return nil
}

// stateless reports whether the local state lacks a finished snapshot of
// one of the sources of a view whose index exists: after the state
// directory was lost, or a source was re-bootstrapped after losing its
// slot. The index may then hold documents of rows deleted since, which only
// a fresh index version built from new snapshots can leave behind.
func (p *pipeline) stateless(sources []string) (bool, error) {
	for _, s := range sources {
		cp, err := p.store.Checkpoint(s)
		if err != nil {
			return false, err
		}
		if !cp.SnapshotDone {
			return true, nil
		}
	}
	return false, nil
}
