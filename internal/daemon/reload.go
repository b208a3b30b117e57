package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform"
	"github.com/projector-dev/projector/transform/state"
)

// reloadCheckTimeout bounds how long a reload may spend reading the
// sources' catalogs to check the new views: a source that does not answer
// rejects the reload rather than holding it forever.
const reloadCheckTimeout = 30 * time.Second

// reloadRequested ends a run of the pipeline so that the next run starts
// with a new, checked configuration: the state and the checkpoints make it
// resume where the previous run stopped.
type reloadRequested struct {
	cfg  *config.Config
	diff configDiff
	// views and schema are cfg's views compiled against the sources' live
	// schemas when the reload was checked.
	views  []*transform.View
	schema transform.Schema
	// refusals say, for the running sources of added and changed views,
	// why those views cannot be built from chunked copies of their tables
	// (see copyRefusal); nil when nothing changed.
	refusals *copyRefusals
}

func (r *reloadRequested) Error() string { return "configuration reload requested" }

// configDiff is what a reload changes, in the order of the files.
type configDiff struct {
	addedViews, changedViews, removedViews []string
	addedSources, removedSources           []string
	// changedSettings are the other top-level settings that differ and
	// take effect on the next run of the pipeline (sink tuning, capture,
	// readiness, shutdown).
	changedSettings []string
	// fixed are the keys that differ but cannot change while running.
	fixed []string
}

// empty reports whether nothing that projector applies changed.
func (d configDiff) empty() bool {
	return len(d.addedViews)+len(d.changedViews)+len(d.removedViews)+len(d.addedSources)+
		len(d.removedSources)+len(d.changedSettings)+len(d.fixed) == 0
}

// logAttrs describe the difference in one log line.
func (d configDiff) logAttrs() []any {
	var attrs []any
	for _, f := range []struct {
		key  string
		list []string
	}{
		{"views_added", d.addedViews}, {"views_changed", d.changedViews}, {"views_removed", d.removedViews},
		{"sources_added", d.addedSources}, {"sources_removed", d.removedSources}, {"settings_changed", d.changedSettings},
	} {
		if len(f.list) > 0 {
			attrs = append(attrs, f.key, f.list)
		}
	}
	return attrs
}

// sameValue compares two parts of a configuration, ignoring where they
// were written in the file and nil against empty.
func sameValue(a, b any) bool {
	return cmp.Equal(a, b, cmpopts.IgnoreTypes(config.Pos{}), cmpopts.EquateEmpty())
}

// diffConfigs compares the running configuration with a reloaded one.
// Log settings are not compared: the command line may override them, and
// they take effect at the next start.
func diffConfigs(old, cur *config.Config) configDiff {
	var d configDiff
	oldViews := map[string]config.View{}
	for _, v := range old.Views {
		oldViews[v.Name] = v
	}
	for _, v := range cur.Views {
		was, ok := oldViews[v.Name]
		switch {
		case !ok:
			d.addedViews = append(d.addedViews, v.Name)
		case !sameValue(was, v):
			d.changedViews = append(d.changedViews, v.Name)
		}
	}
	for _, v := range old.Views {
		if !hasView(cur, v.Name) {
			d.removedViews = append(d.removedViews, v.Name)
		}
	}
	for _, name := range cur.SourceNames {
		was, ok := old.Sources[name]
		if !ok {
			d.addedSources = append(d.addedSources, name)
			continue
		}
		now := cur.Sources[name]
		// The slot and the publication are where the state's positions
		// live: another one is another source.
		if was.Slot != now.Slot {
			d.fixed = append(d.fixed, "sources."+name+".slot")
		}
		if was.Publication != now.Publication {
			d.fixed = append(d.fixed, "sources."+name+".publication")
		}
		if was.PublicationMode != now.PublicationMode {
			d.fixed = append(d.fixed, "sources."+name+".publication_mode")
		}
		if !sameValue(was, now) && !slices.ContainsFunc(d.fixed, func(k string) bool {
			return strings.HasPrefix(k, "sources."+name+".")
		}) {
			d.changedSettings = append(d.changedSettings, "sources."+name)
		}
	}
	for _, name := range old.SourceNames {
		if _, ok := cur.Sources[name]; !ok {
			d.removedSources = append(d.removedSources, name)
		}
	}
	// What the process holds from its start: its state directory, its
	// HTTP listener, and the names of every index it maintains.
	if old.State.Dir != cur.State.Dir {
		d.fixed = append(d.fixed, "state.dir")
	}
	if old.HTTP.Listen != cur.HTTP.Listen {
		d.fixed = append(d.fixed, "http.listen")
	}
	if old.HTTP.Pprof != cur.HTTP.Pprof {
		d.fixed = append(d.fixed, "http.pprof")
	}
	if old.HTTP.PprofTokenFile != cur.HTTP.PprofTokenFile {
		d.fixed = append(d.fixed, "http.pprof_token_file")
	}
	if old.Admin.Listen != cur.Admin.Listen {
		d.fixed = append(d.fixed, "admin.listen")
	}
	if old.Admin.TokenFile != cur.Admin.TokenFile || old.Admin.Token != cur.Admin.Token {
		d.fixed = append(d.fixed, "admin.token_file")
	}
	if old.Admin.WaitTokenFile != cur.Admin.WaitTokenFile || old.Admin.WaitToken != cur.Admin.WaitToken {
		d.fixed = append(d.fixed, "admin.wait_token_file")
	}
	if old.Sink.IndexPrefix != cur.Sink.IndexPrefix {
		d.fixed = append(d.fixed, "sink.index_prefix")
	}
	oldSink, curSink := old.Sink, cur.Sink
	oldSink.IndexPrefix, curSink.IndexPrefix = "", ""
	for _, s := range []struct {
		key      string
		was, now any
	}{
		{"sink", oldSink, curSink}, {"capture", old.Capture, cur.Capture},
		{"readiness", old.Readiness, cur.Readiness}, {"shutdown", old.Shutdown, cur.Shutdown},
	} {
		if !sameValue(s.was, s.now) {
			d.changedSettings = append(d.changedSettings, s.key)
		}
	}
	return d
}

// checkReload reads the configuration file again and checks it as start-up
// does: the file itself (with file:line:col errors), the keys that cannot
// change while running, and the views against the live schemas of their
// sources. It returns the new configuration and what changed; views and
// schema are left out when nothing changed.
func (proc *process) checkReload(ctx context.Context) (*reloadRequested, error) {
	old := proc.cfg
	cur, err := config.Load(old.File)
	if err != nil {
		return nil, err
	}
	cur.Log = old.Log // the running logger keeps its settings
	d := diffConfigs(old, cur)
	if len(d.fixed) > 0 {
		return nil, fmt.Errorf("%s: %s cannot change while projector runs; restore the running value, or restart projector to apply it (nothing of this reload was applied)",
			cur.File, strings.Join(d.fixed, ", "))
	}
	if d.empty() {
		return &reloadRequested{cfg: cur, diff: d}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, reloadCheckTimeout)
	defer cancel()
	schema, failed, err := describeSources(ctx, cur, proc.health.stopped, proc.log)
	if err != nil {
		return nil, fmt.Errorf("read the sources' catalogs to check the views: %w", err)
	}
	// Entities are tables of the views as at start (prepare): without
	// them, every view over an entity would be found missing its table.
	transform.AddEntities(schema, transform.EntitiesOf(cur))
	var problems []error
	for _, name := range cur.SourceNames {
		// A source already stopped for good stays stopped, as its views
		// do, until projector restarts.
		if err := failed[name]; err != nil && proc.health.stopped(name) == "" {
			problems = append(problems, fmt.Errorf("source %q: %w", name, err))
		}
	}
	for _, v := range cur.Views {
		for _, t := range v.Tables() {
			if _, bad := failed[t.Source]; !bad && schema[t.Source][capture.Table{Schema: t.Schema, Name: t.Name}] == nil {
				problems = append(problems, fmt.Errorf("%s: view %q: table %s.%s of source %s does not exist: create it, or remove it from the view",
					v.Pos, v.Name, t.Schema, t.Name, t.Source))
			}
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	views, err := transform.Compile(cur.Views, schema)
	if err != nil {
		return nil, fmt.Errorf("the views do not match the source databases:\n%w", err)
	}
	refusals := &copyRefusals{cfg: cur}
	for _, s := range snapshotSources(cur, slices.Concat(d.addedViews, d.changedViews)) {
		if slices.Contains(old.SourceNames, s) {
			refusals.of(ctx, s)
		}
	}
	return &reloadRequested{cfg: cur, diff: d, views: views, schema: schema, refusals: refusals}, nil
}

// serveReloads runs watchReloads for a run of the pipeline and returns
// the function that stops it and waits until it has.
func (proc *process) serveReloads(ctx context.Context, store *state.Store, restart func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		proc.watchReloads(ctx, store, restart)
	}()
	return func() {
		cancel()
		<-done
	}
}

// watchReloads serves reload requests while a run of the pipeline lasts,
// whose state is store.
// A rejected configuration is logged once and counted, and the run goes
// on untouched; an accepted one ends the run through restart, so that the
// next run applies it. It returns once ctx ends or the run is restarted.
func (proc *process) watchReloads(ctx context.Context, store *state.Store, restart func(error)) {
	if proc.opts.Reload == nil {
		return
	}
	m := proc.metrics.reload
	for {
		if !proc.reloadPending {
			select {
			case <-ctx.Done():
				return
			case <-proc.opts.Reload:
			}
		}
		// A request cut short by the end of the run (another restart,
		// for a reload, a schema change or an admin request) stays
		// pending, and the next run applies it: no SIGHUP is lost.
		proc.reloadPending = true
		proc.log.Info("reloading the configuration", "file", proc.cfg.File)
		r, err := proc.checkReload(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			proc.reloadPending = false
			// Logged before counted: whoever watches the counter finds
			// the reason already written.
			proc.log.Error("configuration reload rejected; the running configuration keeps running unchanged",
				"file", proc.cfg.File, "error", err)
			m.rejected.Inc()
			continue
		}
		m.ok.Inc()
		m.lastSuccess.SetToCurrentTime()
		if r.diff.empty() {
			proc.reloadPending = false
			proc.log.Info("configuration reloaded: nothing changed", "file", r.cfg.File)
			continue
		}
		if err := proc.createIndicesAhead(ctx, store, r); err != nil {
			if ctx.Err() != nil {
				return
			}
			proc.log.Warn("could not create the new index versions before applying the reload; the restart creates them, pausing the views meanwhile",
				"error", err)
		}
		proc.log.Info("configuration reloaded; restarting the pipeline to apply it", r.diff.logAttrs()...)
		proc.reloadPending = false
		restart(r)
		return
	}
}

// prepareReload readies the state for a reloaded configuration, while the
// stopped run's store is still open. An added view over sources whose
// snapshots are done is built while they stream, from the rows the state
// holds, its entities folded again from their event logs and chunked
// copies of its other tables (see planViewBuild), and the sources' other
// views stay on their index. Where that cannot be (a table to copy before
// PostgreSQL 14, an entity without a complete event log), its sources are
// taken again from a fresh snapshot instead, since the state keeps only
// the columns the running views read; the views over them are then
// rebuilt into their next index version while their current one keeps
// serving queries (see prepareIndices).
func prepareReload(ctx context.Context, store *state.Store, r *reloadRequested, log *slog.Logger) error {
	reset, err := reloadResets(ctx, store, r)
	if err != nil {
		return err
	}
	for _, source := range r.cfg.SourceNames {
		why, ok := reset[source]
		if !ok {
			continue
		}
		log.Info("taking a fresh snapshot of a source for the views added to it; its other views are rebuilt into a new index version meanwhile",
			"source", source, "why", why)
		if err := store.ResetSource(source); err != nil {
			return err
		}
	}
	return nil
}

// snapshotSources lists the sources that views of cfg read, in file order.
func snapshotSources(cfg *config.Config, views []string) []string {
	var out []string
	for _, v := range cfg.Views {
		if !slices.Contains(views, v.Name) {
			continue
		}
		for _, t := range v.Tables() {
			if !slices.Contains(out, t.Source) {
				out = append(out, t.Source)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b string) int {
		return slices.Index(cfg.SourceNames, a) - slices.Index(cfg.SourceNames, b)
	})
	return out
}

// applyReload makes the process-wide parts follow a reloaded
// configuration before the next run: the metrics of new views and sources
// exported at zero, the series of removed views dropped, and which views
// each source's failure takes down.
func (proc *process) applyReload(r *reloadRequested) {
	cfg, set := r.cfg, proc.metrics
	used := cfg.TablesBySource()
	for _, name := range r.diff.addedSources {
		set.daemon.declareSource(name, used[name] != nil)
		if used[name] != nil {
			set.capture.DeclareSource(name, CaptureSource(cfg, name).Tables)
		}
	}
	for _, name := range r.diff.addedViews {
		set.daemon.viewAvailable.WithLabelValues(name)
		set.transform.DeclareView(name)
		set.sink.DeclareView(name)
	}
	proc.described = r.schema
	proc.health.forgetViews(r.diff.removedViews)
	proc.health.useViews(cfg)
	proc.admin.reconfigure(cfg, r.diff.addedViews)
	proc.cfg = cfg
}

// forgetViews drops the series of views no longer configured, and what
// health recorded of every view: the next run finds again which views it
// cannot maintain, so that a reload that restores a missing table's view
// makes it ready again.
func (h *health) forgetViews(removed []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range removed {
		h.metrics.viewAvailable.DeleteLabelValues(v)
	}
	clear(h.views)
}

// useViews records which views need each source, from cfg.
func (h *health) useViews(cfg *config.Config) {
	uses := newHealth(h.metrics, cfg, h.log).uses
	h.mu.Lock()
	defer h.mu.Unlock()
	h.uses = uses
}

// describeSources reads the sources' catalogs for a run of the pipeline.
// The first run after a reload starts from the catalogs the reload was
// checked against, read moments before, rather than make every view wait
// for them again: the schema watch compares the live catalogs with them
// as it does with those read at start.
func (proc *process) describeSources(ctx context.Context, cfg *config.Config) (transform.Schema, map[string]error, error) {
	if schema := proc.described; schema != nil {
		proc.described = nil
		failed := map[string]error{}
		for name := range cfg.TablesBySource() {
			if why := proc.health.stopped(name); why != "" {
				failed[name] = errors.New(why)
			}
		}
		return schema, failed, nil
	}
	return describeSources(ctx, cfg, proc.health.stopped, proc.log)
}
