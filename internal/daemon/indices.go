package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
)

// viewIndex is where a view's documents go: the alias clients query and
// the versioned index behind it. While a new version builds, target is the
// new index and the alias still points at from.
type viewIndex struct {
	view    string
	alias   string
	target  string
	from    string // the index the alias points at while rebuilding
	sources []string
}

// prepareIndices creates each view's first index, or, when the view's
// shape changed since its index was created, the next version, which is
// then built from fresh snapshots of the view's sources while queries keep
// using the old one.
func (p *pipeline) prepareIndices(ctx context.Context, cfg *config.Config, rebuild []string, log *slog.Logger) error {
	p.indices = map[string]*viewIndex{}
	for i, v := range p.views {
		vi, err := p.prepareIndex(ctx, cfg, &cfg.Views[i], v, contains(rebuild, v.Name), log)
		if err != nil {
			return err
		}
		p.indices[v.Name] = vi
	}
	return nil
}

// prepareIndex picks the index view v writes to. force starts a new
// version even when the shape did not change (projector rebuild).
func (p *pipeline) prepareIndex(ctx context.Context, cfg *config.Config, cv *config.View, v *transform.View,
	force bool, log *slog.Logger) (*viewIndex, error) {
	alias := cfg.Sink.IndexPrefix + v.Name
	mapping, fingerprint := viewMapping(v, p.schema, p.client.Flavour)
	settings := sink.IndexSettings{Shards: cv.Settings.Shards, Replicas: cv.Settings.Replicas}
	if cv.Settings.RefreshInterval != 0 {
		settings.RefreshInterval = cv.Settings.RefreshInterval.String()
	}
	vi := &viewIndex{view: v.Name, alias: alias}
	for _, t := range cv.Tables() {
		if !contains(vi.sources, t.Source) {
			vi.sources = append(vi.sources, t.Source)
		}
	}
	current, err := p.client.CurrentVersion(ctx, alias)
	if err != nil {
		return nil, err
	}
	next := max(current, 1)
	if current > 0 {
		meta, err := p.client.MappingMeta(ctx, sink.IndexName(alias, current))
		if err != nil {
			return nil, err
		}
		// A next version that already exists is a rebuild cut short by a
		// stop: it goes on, from fresh snapshots again.
		unfinished, err := p.client.IndexExists(ctx, sink.IndexName(alias, current+1))
		if err != nil {
			return nil, err
		}
		stateless, err := p.stateless(vi.sources)
		if err != nil {
			return nil, err
		}
		if force || unfinished || stateless || fingerprintOf(meta) != fingerprint {
			next = current + 1
		}
	}
	if _, err := p.client.EnsureIndex(ctx, alias, next, mapping, settings); err != nil {
		return nil, fmt.Errorf("view %q: %w", v.Name, err)
	}
	vi.target = sink.IndexName(alias, next)
	if next == current || current == 0 {
		log.Info("view index ready", "view", v.Name, "alias", alias, "index", vi.target)
		return vi, nil
	}
	vi.from = sink.IndexName(alias, current)
	log.Info("view changed: building a new index version from fresh snapshots; queries keep using the old one until it is complete",
		"view", v.Name, "alias", alias, "from", vi.from, "to", vi.target, "sources", vi.sources)
	for _, s := range vi.sources {
		if err := p.store.ResetSource(s); err != nil {
			return nil, err
		}
	}
	p.rebuilds = append(p.rebuilds, vi)
	return vi, nil
}

func fingerprintOf(meta map[string]any) string {
	pm, _ := meta["projector"].(map[string]any)
	fp, _ := pm["fingerprint"].(string)
	return fp
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// watchRebuilds moves each rebuilt view's alias to its new index once the
// new index holds everything: every source of the view has finished its
// snapshot and all it applied is acknowledged by the index.
func (p *pipeline) watchRebuilds(ctx context.Context, streams map[string]*capture.Stream,
	checkpoint func(string) (capture.Checkpoint, error), log *slog.Logger) error {
	pending := p.rebuilds
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	if p.rebuilt != nil {
		defer func() {
			if len(pending) == 0 {
				p.rebuilt()
			}
		}()
	}
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var still []*viewIndex
		for _, vi := range pending {
			done, err := rebuilt(vi, streams, checkpoint)
			if err != nil {
				return err
			}
			if !done {
				still = append(still, vi)
				continue
			}
			if err := p.client.SwapAlias(ctx, vi.alias, vi.from, vi.target); err != nil {
				return fmt.Errorf("view %q: %w", vi.view, err)
			}
			log.Info("view rebuilt; alias moved to the new index and the old index deleted",
				"view", vi.view, "alias", vi.alias, "index", vi.target, "deleted", vi.from)
		}
		pending = still
	}
	return nil
}

func rebuilt(vi *viewIndex, streams map[string]*capture.Stream, checkpoint func(string) (capture.Checkpoint, error)) (bool, error) {
	for _, s := range vi.sources {
		cp, err := checkpoint(s)
		if err != nil {
			return false, err
		}
		if !cp.SnapshotDone || streams[s].Confirmed() < cp.Applied {
			return false, nil
		}
	}
	return true, nil
}

// stateless reports whether the local state knows nothing of any of the
// sources, as after its directory was lost: documents already in the index
// may then belong to rows deleted since, which only a fresh index version
// built from new snapshots can leave behind.
func (p *pipeline) stateless(sources []string) (bool, error) {
	for _, s := range sources {
		cp, err := p.store.Checkpoint(s)
		if err != nil {
			return false, err
		}
		if cp.SnapshotDone || cp.Applied > 0 {
			return false, nil
		}
	}
	return true, nil
}
