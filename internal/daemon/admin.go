package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/admin"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
)

// adminAPI is the daemon behind the admin API (internal/admin). It
// outlives the runs of the pipeline and answers about the current one.
// Rebuilding, stopping and resuming a view restart the pipeline, the way
// a re-bootstrap does: it drains what is in flight, prepares the views
// again (a rebuild opens the view's next index version and takes fresh
// snapshots of its sources while the alias keeps serving the current
// one) and streams on. Every other view pauses for that restart.
type adminAPI struct {
	// conf is the running configuration; a reload replaces it.
	conf    atomic.Pointer[config.Config]
	metrics *admin.Metrics
	log     *slog.Logger
	// run is the pipeline that runs now; nil while it starts or restarts.
	run atomic.Pointer[adminRun]
	// runs numbers the runs of the pipeline, for Mark.
	runs atomic.Uint64

	mu sync.Mutex
	// rebuild lists views to rebuild at the pipeline's next start.
	rebuild []string
	// stopped holds the views an operator stopped, kept in stoppedFile
	// so that they stay stopped across restarts of projector.
	stopped map[string]bool
	loaded  bool
}

// adminRun is what the admin API sees of one run of the pipeline.
type adminRun struct {
	p       *pipeline
	engine  *transform.Engine
	streams map[string]*capture.Stream
	// writer is hurried when a wait's position is applied and its
	// documents wait for a full batch or the flush interval.
	writer *sink.Writer
	// id tells this run's Marks from another run's.
	id uint64
	// shards are the shard counts of the indices waits refreshed.
	shards shardCounts

	mu sync.Mutex
	// snapshotEnd is, per source, its applied position when a wait first
	// found its snapshot complete in this run (as watchRebuilds keeps it):
	// once that is durable, so are the documents the snapshot held back,
	// and the documents left pending at the last stop.
	snapshotEnd map[string]capture.LSN
}

// caughtUp reports whether every source of a view finished its snapshot
// in the state and everything applied when that was first seen is
// durable: before, a view's documents may wait for a snapshot although a
// source's durable position is past a change they reflect.
func (r *adminRun) caughtUp(sources []string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range sources {
		end, seen := r.snapshotEnd[s]
		if !seen {
			cp, err := r.engine.Checkpoint(s)
			if err != nil {
				return false, err
			}
			if !cp.SnapshotDone {
				return false, nil
			}
			end = cp.Applied
			r.snapshotEnd[s] = end
		}
		if r.engine.Durable(s, 0) < end {
			return false, nil
		}
	}
	return true, nil
}

// errAdminRestart restarts the pipeline for an admin request: a rebuild,
// a stop or a resume.
var errAdminRestart = fmt.Errorf("admin request: %w", errRebootstrap)

// stoppedViewsFile is where the stopped views are kept, in state.dir: a
// name the state store's own files never take.
const stoppedViewsFile = "projector-stopped-views.json"

// startAdmin serves the admin API when it is configured, until the
// returned stop is called; it returns a nil *adminAPI when it is not.
func startAdmin(cfg *config.Config, m *admin.Metrics, log *slog.Logger) (*adminAPI, func(), error) {
	if !cfg.Admin.Enabled() {
		return nil, func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on admin.listen %q: %w; choose a free host:port", cfg.Admin.Listen, err)
	}
	a := &adminAPI{metrics: m, log: log}
	a.conf.Store(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	srv := admin.New(ctx, admin.Options{Token: cfg.Admin.Token, WaitToken: cfg.Admin.WaitToken, Daemon: a, Snapshots: a, Log: log, Metrics: m})
	done := make(chan error, 1)
	go func() { done <- admin.Serve(ctx, ln, srv, log) }()
	return a, func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("stopping the admin API", "error", err)
		}
		srv.Close()
	}, nil
}

// config is the configuration the daemon runs now.
func (a *adminAPI) config() *config.Config { return a.conf.Load() }

// reconfigure follows a reloaded configuration: its views are the ones
// the API reports, and new views' series are exported at zero.
func (a *adminAPI) reconfigure(cfg *config.Config, added []string) {
	if a == nil {
		return
	}
	if a.metrics != nil {
		for _, v := range added {
			a.metrics.DeclareView(v)
		}
	}
	a.conf.Store(cfg)
}

// startAdminFor starts the admin API for `projector run`; a command that
// ends, such as an offline `projector rebuild`, serves none.
func startAdminFor(cfg *config.Config, opts Options, reg prometheus.Registerer, log *slog.Logger) (*adminAPI, func(), error) {
	if opts.StopWhenRebuilt || !cfg.Admin.Enabled() {
		return nil, func() {}, nil
	}
	m := admin.NewMetrics(reg)
	for _, v := range cfg.Views {
		m.DeclareView(v.Name)
	}
	return startAdmin(cfg, m, log)
}

// started tells the admin API of a running pipeline, until ctx ends.
func (a *adminAPI) started(ctx context.Context, p *pipeline, st *stages) {
	if a == nil {
		return
	}
	r := &adminRun{p: p, engine: st.engine, streams: st.streams, writer: st.writer, id: a.runs.Add(1), snapshotEnd: map[string]capture.LSN{}}
	a.run.Store(r)
	go func() {
		<-ctx.Done()
		a.run.CompareAndSwap(r, nil)
	}()
}

// prepare leaves the stopped views out of cfg and says which views to
// rebuild, adding those an admin request asked for to rebuild: the
// pipeline's preparation calls it once per run.
func (a *adminAPI) prepare(cfg *config.Config, rebuild []string) (*config.Config, []string, error) {
	if a == nil {
		return cfg, rebuild, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.load(); err != nil {
		return nil, nil, err
	}
	rebuild = append(slices.Clip(rebuild), a.rebuild...)
	a.rebuild = nil
	if len(a.stopped) == 0 {
		return cfg, rebuild, nil
	}
	run := *cfg
	run.Views = nil
	for _, v := range cfg.Views {
		if a.stopped[v.Name] {
			a.log.Info("view stopped through the admin API; its index stays as it is until it is resumed", "view", v.Name)
			continue
		}
		run.Views = append(run.Views, v)
	}
	return &run, rebuild, nil
}

// load reads the stopped views once; a.mu is held.
func (a *adminAPI) load() error {
	if a.loaded {
		return nil
	}
	a.stopped = map[string]bool{}
	data, err := os.ReadFile(filepath.Join(a.config().State.Dir, stoppedViewsFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read the views stopped through the admin API: %w", err)
	default:
		var views []string
		if err := json.Unmarshal(data, &views); err != nil {
			return fmt.Errorf("read the views stopped through the admin API from %s: %w; delete the file to resume them all",
				filepath.Join(a.config().State.Dir, stoppedViewsFile), err)
		}
		for _, v := range views {
			if hasView(a.config(), v) {
				a.stopped[v] = true
			}
		}
	}
	a.loaded = true
	return nil
}

// save writes the stopped views; a.mu is held.
func (a *adminAPI) save() error {
	var views []string
	for v := range a.stopped {
		views = append(views, v)
	}
	slices.Sort(views)
	data, err := json.Marshal(views)
	if err != nil {
		return err
	}
	path := filepath.Join(a.config().State.Dir, stoppedViewsFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("record the stopped views: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("record the stopped views: %w", err)
	}
	return nil
}

// Views reports every configured view.
func (a *adminAPI) Views(ctx context.Context) ([]admin.View, error) {
	r := a.run.Load()
	a.mu.Lock()
	stopped := maps.Clone(a.stopped)
	a.mu.Unlock()
	var out []admin.View
	for i := range a.config().Views {
		cv := &a.config().Views[i]
		v := admin.View{Name: cv.Name, Alias: cv.Name, State: admin.StateStarting}
		switch {
		case stopped[cv.Name]:
			v.State, v.Reason = admin.StateStopped, "stopped through the admin API; POST /v1/views/"+cv.Name+"/resume rebuilds it"
		case r == nil:
		case r.p.indices[cv.Name] == nil:
			v.State, v.Reason = admin.StateStopped, r.p.health.viewProblem(cv.Name)
		default:
			vi := r.p.indices[cv.Name]
			v.Alias, v.Index, v.Version = vi.Alias, vi.Target, versionNumber(vi.Alias, vi.Target)
			v.State = admin.StateStreaming
			if r.p.isRebuilding(cv.Name) {
				v.State, v.Serving = admin.StateRebuilding, vi.From
			}
			if n, err := countDocuments(ctx, r.p, vi.Target); err == nil {
				v.Documents = &n
			} else {
				a.log.Debug("count a view's documents for the admin API", "view", cv.Name, "error", err)
			}
			for _, s := range viewSources(cv) {
				src := admin.Source{Name: s}
				if st := r.streams[s]; st != nil {
					src.LagSeconds = st.LagSeconds(time.Now())
					src.Durable = r.engine.Durable(s, st.Passed()).String()
				}
				if cp, err := r.engine.Checkpoint(s); err == nil && !cp.SnapshotDone {
					src.Snapshotting = true
					if v.State == admin.StateStreaming {
						v.State = admin.StateSnapshotting
					}
				}
				copyProgress(&v, &src, cv, r.streams[s], a.log)
				v.Sources = append(v.Sources, src)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// Reached reports whether every change of source up to lsn is durable in
// view's index, which must also be the one its alias serves.
func (a *adminAPI) Reached(view, source string, lsn capture.LSN) (bool, <-chan struct{}, error) {
	cv := a.view(view)
	if cv == nil {
		return false, nil, fmt.Errorf("no view named %q: %w", view, admin.ErrNotFound)
	}
	if !slices.Contains(viewSources(cv), source) {
		return false, nil, fmt.Errorf("view %s reads no source named %q (it reads %s): %w",
			view, source, strings.Join(viewSources(cv), ", "), admin.ErrNotFound)
	}
	a.mu.Lock()
	stopped := a.stopped[view]
	a.mu.Unlock()
	if stopped {
		return false, nil, fmt.Errorf("view %s is stopped: %w", view, admin.ErrConflict)
	}
	r := a.run.Load()
	if r == nil {
		return false, nil, nil // starting or restarting: ask again
	}
	if r.p.indices[view] == nil {
		return false, nil, fmt.Errorf("view %s is not maintained: %s: %w", view, r.p.health.viewProblem(view), admin.ErrConflict)
	}
	st := r.streams[source]
	if st == nil || r.p.isRebuilding(view) {
		// The alias serves the previous version until the rebuild ends.
		return false, nil, nil
	}
	changed := r.engine.Settling()
	caughtUp, err := r.caughtUp(viewSources(cv))
	if err != nil || !caughtUp {
		return false, changed, err
	}
	// Acknowledged in order is enough to be searchable after a refresh;
	// the settle after it (the state synced) is for the slot, not here.
	if r.engine.Durable(source, st.Passed()) >= lsn || r.engine.Acknowledged(source) >= lsn {
		return true, changed, nil
	}
	if r.engine.Applied(source) < lsn {
		// The change may sit in a group waiting for company: apply it now.
		r.engine.Hurry()
	}
	if r.writer != nil && r.engine.Applied(source) >= lsn {
		// The documents are built: send them now rather than after the
		// flush interval. Only a waiting read does this.
		r.writer.Hurry()
	}
	return false, changed, nil
}

// Mark says how far the running pipeline has acknowledged documents, and
// which index view's alias serves, so that waits share refreshes; unknown
// while the pipeline starts, or the view is not maintained or rebuilt.
func (a *adminAPI) Mark(view string) admin.Mark {
	r := a.run.Load()
	if r == nil || r.p.indices[view] == nil || r.p.isRebuilding(view) {
		return admin.Mark{}
	}
	return admin.Mark{Run: r.id, Settled: r.engine.AcknowledgedGroups(), Index: r.p.indices[view].Target}
}

// Refresh makes what view's alias holds searchable.
func (a *adminAPI) Refresh(ctx context.Context, view string) error {
	r := a.run.Load()
	if r == nil || r.p.indices[view] == nil {
		return fmt.Errorf("view %s is not running: %w", view, admin.ErrUnavailable)
	}
	c := r.p.client
	alias := r.p.indices[view].Alias
	res, err := c.API.Indices.Refresh(c.API.Indices.Refresh.WithContext(ctx), c.API.Indices.Refresh.WithIndex(alias))
	if err != nil {
		return fmt.Errorf("refresh %s: %w", alias, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("refresh %s: %s %s", alias, res.Status(), body)
	}
	return nil
}

// Rebuild rebuilds view into its next index version, restarting the
// pipeline with the view marked for rebuilding.
func (a *adminAPI) Rebuild(view string) error {
	if a.view(view) == nil {
		return fmt.Errorf("no view named %q: %w", view, admin.ErrNotFound)
	}
	r := a.run.Load()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.stopped[view]:
		return fmt.Errorf("view %s is stopped; resume it, which rebuilds it: %w", view, admin.ErrConflict)
	case r == nil:
		return fmt.Errorf("the pipeline is starting; try again shortly: %w", admin.ErrUnavailable)
	case r.p.isRebuilding(view):
		return fmt.Errorf("view %s is being rebuilt already: %w", view, admin.ErrConflict)
	case r.p.indices[view] == nil:
		return fmt.Errorf("view %s is not maintained: %s: %w", view, r.p.health.viewProblem(view), admin.ErrConflict)
	}
	a.rebuild = append(a.rebuild, view)
	a.log.Info("rebuilding a view on request; the pipeline restarts, and its alias serves the current index until the new one is complete", "view", view)
	r.p.restart(errAdminRestart)
	return nil
}

// Stop stops maintaining view: the pipeline restarts without it, and its
// index stays as it is.
func (a *adminAPI) Stop(view string) error {
	if a.view(view) == nil {
		return fmt.Errorf("no view named %q: %w", view, admin.ErrNotFound)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.load(); err != nil {
		return err
	}
	if a.stopped[view] {
		return fmt.Errorf("view %s is stopped already: %w", view, admin.ErrConflict)
	}
	a.stopped[view] = true
	if err := a.save(); err != nil {
		delete(a.stopped, view)
		return err
	}
	a.log.Info("stopping a view on request; the pipeline restarts without it", "view", view)
	if r := a.run.Load(); r != nil {
		r.p.restart(errAdminRestart)
	}
	return nil
}

// Resume maintains a stopped view again. What changed while it was
// stopped is not in its index, and its tables may not have been read, so
// it is rebuilt: into its next index version, from fresh snapshots of its
// sources, while its alias serves what it had.
func (a *adminAPI) Resume(view string) error {
	if a.view(view) == nil {
		return fmt.Errorf("no view named %q: %w", view, admin.ErrNotFound)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.load(); err != nil {
		return err
	}
	if !a.stopped[view] {
		return fmt.Errorf("view %s is not stopped: %w", view, admin.ErrConflict)
	}
	delete(a.stopped, view)
	if err := a.save(); err != nil {
		a.stopped[view] = true
		return err
	}
	a.rebuild = append(a.rebuild, view)
	a.log.Info("resuming a view on request; the pipeline restarts and rebuilds it", "view", view)
	if r := a.run.Load(); r != nil {
		r.p.restart(errAdminRestart)
	}
	return nil
}

func (a *adminAPI) view(name string) *config.View {
	for i := range a.config().Views {
		if a.config().Views[i].Name == name {
			return &a.config().Views[i]
		}
	}
	return nil
}

// viewSources lists the sources a view reads, in the order of its tables.
func viewSources(v *config.View) []string {
	var out []string
	for _, t := range v.Tables() {
		if !slices.Contains(out, t.Source) {
			out = append(out, t.Source)
		}
	}
	return out
}

// isRebuilding reports whether view's alias does not serve its new index
// yet.
func (p *pipeline) isRebuilding(view string) bool {
	return slices.ContainsFunc(p.rebuildingViews(), func(s string) bool { return strings.HasPrefix(s, view+" (") })
}

// viewProblem says why view is not maintained.
func (h *health) viewProblem(view string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if why := h.views[view]; why != "" {
		return why
	}
	return "not maintained"
}

func versionNumber(alias, index string) int {
	var n int
	if _, err := fmt.Sscanf(strings.TrimPrefix(index, alias+"_v"), "%d", &n); err != nil {
		return 0
	}
	return n
}

// countDocuments asks the search engine how many documents index holds.
func countDocuments(ctx context.Context, p *pipeline, index string) (int64, error) {
	c := p.client
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := c.API.Count(c.API.Count.WithContext(ctx), c.API.Count.WithIndex(index))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("count %s: %s", index, res.Status())
	}
	var body struct {
		Count int64 `json:"count"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("count %s: %w", index, err)
	}
	return body.Count, nil
}
