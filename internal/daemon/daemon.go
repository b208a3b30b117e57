package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/budget"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
	"github.com/projector-dev/projector/transform/ledger"
	"github.com/projector-dev/projector/transform/state"
)

// Run is `projector run`: it keeps the configured views up to date until
// ctx ends (SIGTERM), then stops reading, waits for in-flight documents to
// be acknowledged, confirms their positions to the sources and closes the
// state store, all within cfg.Shutdown.Grace. Whatever the grace period
// cuts short is sent again on the next start, never lost.
func Run(ctx context.Context, cfg *config.Config, version string, log *slog.Logger) error {
	return RunWith(ctx, cfg, Options{Version: version}, log)
}

// Options change what RunWith does beyond the configuration file.
type Options struct {
	// Version is reported by projector_build_info.
	Version string
	// Rebuild names views to rebuild into a new index version even though
	// their shape did not change.
	Rebuild []string
	// StopWhenRebuilt stops gracefully once every view being rebuilt has
	// its alias moved to the new index: `projector rebuild`.
	StopWhenRebuilt bool
	// Progress, when set, hears how many snapshot rows are copied out of
	// the estimated total over every source, for a progress bar.
	Progress func(work string, done, total int64)
	// Standby waits for the sources' locks held by another projector with
	// the same configuration, instead of refusing to start.
	Standby bool
	// Reload, when set, asks the daemon to read its configuration file
	// again and apply it while running (SIGHUP); a file that does not
	// check is rejected and the running configuration kept.
	Reload <-chan struct{}
}

// RunWith is Run with options.
func RunWith(ctx context.Context, cfg *config.Config, opts Options, log *slog.Logger) error {
	for _, name := range opts.Rebuild {
		if !hasView(cfg, name) {
			return fmt.Errorf("no view named %q in %s", name, cfg.File)
		}
	}
	reg := prometheus.NewRegistry()
	set, err := newMetricSet(reg, cfg, opts.Version)
	if err != nil {
		return err
	}
	h := newHealth(set.daemon, cfg, log)

	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen on http.listen %q: %w; choose a free host:port", cfg.HTTP.Listen, err)
	}
	var mon atomic.Pointer[monitor]
	var standing atomic.Pointer[string] // why a standby waits
	snapshots := &snapshotProgress{tables: map[string][2]int64{}}
	ready := func() (bool, string) {
		if mm := mon.Load(); mm != nil {
			return snapshots.readiness(mm.status())
		}
		if why := standing.Load(); why != nil {
			return false, *why
		}
		return false, "starting"
	}
	httpCtx, stopHTTP := context.WithCancel(context.Background())
	httpDone := make(chan error, 1)
	pprofToken := ""
	if cfg.HTTP.Pprof {
		pprofToken = cfg.HTTP.PprofToken
	}
	go func() { httpDone <- serveHTTP(httpCtx, ln, reg, pprofToken, ready, log) }()
	defer func() {
		stopHTTP()
		if err := <-httpDone; err != nil {
			log.Warn("stopping http server", "error", err)
		}
	}()

	fence, err := takeFences(ctx, fenceSources(cfg), fenceOptions{standby: opts.Standby,
		waiting: func(why string) { standing.Store(&why); set.daemon.standby.Set(1) }, health: h, log: log})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			log.Info("stopped before the pipeline started")
			return nil
		}
		return err
	}
	standing.Store(nil)
	set.daemon.standby.Set(0)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer func() {
		stopWatch()
		fence.release()
	}()
	fence.watch(watchCtx, log)

	// After the fences: a standby has nothing to administer yet, and
	// takes admin.listen only when it takes over.
	adm, stopAdmin, err := startAdminFor(cfg, opts, reg, log)
	if err != nil {
		return err
	}
	defer stopAdmin()

	proc := &process{cfg: cfg, opts: opts, fence: fence, health: h, metrics: set, mon: &mon, admin: adm, snapshots: snapshots, log: log}
	for {
		err := runOnce(ctx, proc)
		if lost := fence.err(); lost != nil {
			return lost
		}
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			log.Info("stopped before the pipeline started")
			return nil // SIGTERM while waiting for a server at start-up
		}
		var reload *reloadRequested
		if errors.As(err, &reload) && ctx.Err() == nil {
			proc.applyReload(reload)
			continue
		}
		if !errors.Is(err, errRebootstrap) || ctx.Err() != nil {
			return err
		}
		if errors.Is(err, errAdminRestart) {
			log.Info("restarting the pipeline for an admin request")
			continue
		}
		log.Warn("restarting the pipeline to re-bootstrap a source; affected views are rebuilt into a new index version while queries keep using the current one")
	}
}

// errRebootstrap asks RunWith to start the pipeline over: a source lost
// its slot and its state was reset, so its views need rebuilding.
var errRebootstrap = errors.New("source re-bootstrap requested")

// process is what outlives a run of the pipeline: the configuration, the
// metrics, what stopped for good, the fences and what /readyz asks.
type process struct {
	cfg    *config.Config
	opts   Options
	fence  *fences
	health *health
	// metrics are every stage's, created once for the process.
	metrics *metricSet
	// mon is the monitor of the running pipeline, for /readyz.
	mon *atomic.Pointer[monitor]
	// admin is the admin API's view of the pipeline; nil when it is off.
	admin *adminAPI
	// snapshots is how far the snapshots of the running pipeline are.
	snapshots *snapshotProgress
	log       *slog.Logger
	// described, when set, is the sources' schema a reload was just
	// checked against, for the next run to start from.
	described transform.Schema
	// reloadPending is a reload request taken but not yet decided when
	// its run of the pipeline ended, for the next run to apply.
	reloadPending bool
}

// runOnce prepares the pipeline and runs it until ctx ends or it fails.
func runOnce(ctx context.Context, proc *process) error {
	opts, h, log := proc.opts, proc.health, proc.log
	p, err := prepare(ctx, proc)
	if err != nil {
		return err
	}
	defer func() {
		if err := p.store.Close(); err != nil {
			log.Error("close state store", "error", err)
		}
	}()
	// A schema change that reshapes a view, or a re-created table, ends
	// this run; the source is reset once the pipeline stopped, and the
	// next run rebuilds its views. The caller's ctx still decides shutdown.
	runCtx, restart := context.WithCancelCause(ctx)
	defer restart(nil)
	p.restart = restart
	p.replaced = &replacedSources{restart: restart}
	defer proc.serveReloads(runCtx, p.store, restart)()
	if opts.StopWhenRebuilt {
		// A rebuild is a command that ends: it fails rather than rebuild
		// without a source or a view.
		if err := h.err(); err != nil {
			return fmt.Errorf("cannot rebuild:\n%w", err)
		}
		var stop context.CancelFunc
		runCtx, stop = context.WithCancel(runCtx)
		defer stop()
		p.rebuilt = stop
	}
	err = p.run(runCtx)
	if ctx.Err() != nil {
		return err
	}
	var changed *schemaChanged
	var reload *reloadRequested
	switch cause := context.Cause(runCtx); {
	case errors.As(cause, &reload):
		if err := prepareReload(ctx, p.store, reload, log); err != nil {
			return err
		}
		return cause
	case errors.As(cause, &changed):
		if err := p.store.ResetSource(changed.source); err != nil {
			return err
		}
		return cause
	case errors.Is(cause, errAdminRestart):
		return cause
	case errors.Is(cause, errTableReplaced):
		if err := p.replaced.reset(p.store, log); err != nil {
			return err
		}
		return errRebootstrap
	}
	return err
}

// pipeline is everything prepared before the first change is read.
type pipeline struct {
	cfg      *config.Config
	client   *sink.Client
	schema   transform.Schema
	views    []*transform.View
	store    *state.Store
	held     *heldTables // what the state holds of the views' tables (statebuild.go)
	indices  map[string]*viewIndex
	rebuilds []*viewIndex
	// rebuilt, when set, is called once every rebuild is complete.
	rebuilt func()
	// restart ends this run of the pipeline so that the next one starts
	// over, for the reason given.
	restart func(reason error)
	// rebuilding lists the views whose alias has not moved yet.
	rebuilding atomic.Pointer[[]string]
	// health records the sources stopped for good and the views left out.
	health *health
	// fence makes this process the one writer of the views.
	fence *fences
	// replaced collects sources with a re-created table.
	replaced *replacedSources
	// proc is what outlives this run.
	proc *process
	log  *slog.Logger
}

// prepare connects to the search engine and the sources, checks the views
// against the live schemas and creates or picks each view's index. A
// source that cannot start for good, or a table that does not exist,
// leaves out the views that need it (recorded in h); the rest run.
func prepare(ctx context.Context, proc *process) (*pipeline, error) {
	cfg, h, log := proc.cfg, proc.health, proc.log
	client, err := connectSink(ctx, cfg.Sink, log)
	if err != nil {
		return nil, err
	}
	schema, failed, err := proc.describeSources(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for name, err := range failed {
		h.sourceFailed(name, err)
	}
	transform.AddEntities(schema, transform.EntitiesOf(cfg))
	cfg = availableViews(cfg, schema, failed, h)
	cfg, rebuild, err := proc.admin.prepare(cfg, proc.opts.Rebuild)
	if err != nil {
		return nil, err
	}
	views, err := transform.Compile(cfg.Views, schema)
	if err != nil {
		return nil, fmt.Errorf("the views do not match the source databases:\n%w", err)
	}
	store, err := state.Open(cfg.State.Dir, log)
	if err != nil {
		return nil, fmt.Errorf("open state store in state.dir %q (is another projector using it?): %w", cfg.State.Dir, err)
	}
	for _, v := range views {
		h.viewRunning(v.Name)
	}
	p := &pipeline{cfg: cfg, client: client, schema: schema, views: views, store: store, health: h,
		fence: proc.fence, proc: proc, log: log}
	if err := p.prepareIndices(ctx, cfg, rebuild, log); err != nil {
		store.Close()
		return nil, err
	}
	return p, nil
}

// run runs the prepared pipeline until ctx ends and everything read is
// durable (or the grace period is over), or until a stage fails.
func (p *pipeline) run(ctx context.Context) error {
	cfg, log := p.cfg, p.log
	opts := writerOptions(cfg)
	opts.Metrics = p.proc.metrics.sink
	writer, err := sink.NewWriter(p.client, opts, nil, log)
	if err != nil {
		return err
	}
	shares := budget.Default()
	streams, ordered := p.openStreams(shares.Snapshot)
	// Only the engine's position ledger confirms positions to the streams.
	confirm := ledger.Streams{}
	for source, s := range streams {
		confirm[source] = s
	}
	// The feed's share of the memory budget may wait: enough that a busy
	// engine always finds a whole group, few enough that snapshot chunks
	// stay few.
	in := newFeed(feedTransactions, budget.New(shares.Feed))
	engine, err := transform.NewEngine(p.store, p.views, writer, confirm.Confirm,
		transform.Options{
			MaxGroupEvents:  maxGroupEvents,
			GroupLinger:     groupLinger,
			Applied:         in.applied,
			IndexName:       func(view string) string { return p.indices[view].Target },
			DeadLetterIndex: func(view string) string { return sink.DeadLetterIndex(p.indices[view].Alias) },
			Entities:        transform.EntitiesOf(cfg),
			Refolds:         p.refolds(cfg),
			Builds:          p.stateBuilds(),
		}, p.proc.metrics.transform, log)
	if err != nil {
		return fmt.Errorf("start view engine: %w", err)
	}
	for _, vi := range p.indices {
		vi.refolded = engine.Refolded
	}
	p.followBuilds(engine)
	st := &stages{writer: writer, engine: engine, in: in, streams: streams, ordered: ordered}
	lt := newLifetimes()
	defer lt.end()
	p.startStages(lt, st)
	aux := p.startAux(lt, st)
	p.shutdownOn(ctx, lt, st)
	return p.wait(ctx, lt, st, aux)
}

// stages are the parts of a running pipeline: every source's stream, the
// feed that carries their transactions to the view engine, and the writer
// that makes the engine's documents durable.
type stages struct {
	writer  *sink.Writer
	engine  *transform.Engine
	in      *feed
	streams map[string]*capture.Stream
	// ordered holds the same streams, for the tasks that go through all.
	ordered []*capture.Stream
	// grace, once set, ends life when the grace period is over.
	grace *time.Timer
}

// lifetimes are the contexts of one run of the pipeline. life outlives the
// caller's ctx: after SIGTERM the engine and the writer keep going until
// everything read is durable, or the grace period ends. group ends when a
// stage fails; the writer, the streams and the auxiliary tasks (monitor,
// rebuild watch, fence watch) are each stopped on their own.
type lifetimes struct {
	life    context.Context
	endLife context.CancelFunc

	group   *errgroup.Group
	gctx    context.Context
	writer  context.Context
	streams context.Context
	aux     context.Context

	stopWriter, stopStreams, stopAux context.CancelFunc
}

func newLifetimes() *lifetimes {
	lt := &lifetimes{}
	lt.life, lt.endLife = context.WithCancel(context.Background())
	lt.group, lt.gctx = errgroup.WithContext(lt.life)
	lt.writer, lt.stopWriter = context.WithCancel(lt.gctx)
	lt.streams, lt.stopStreams = context.WithCancel(lt.gctx)
	lt.aux, lt.stopAux = context.WithCancel(lt.gctx)
	return lt
}

// end releases every context, shortest-lived first.
func (lt *lifetimes) end() {
	lt.stopAux()
	lt.stopStreams()
	lt.stopWriter()
	lt.endLife()
}

// openStreams creates one capture stream per source the views use.
// Their snapshot chunks share snapshotBudget bytes.
func (p *pipeline) openStreams(snapshotBudget int64) (map[string]*capture.Stream, []*capture.Stream) {
	cfg := p.cfg
	streams := map[string]*capture.Stream{}
	var ordered []*capture.Stream
	snapshots := p.proc.snapshots
	for source := range cfg.TablesBySource() {
		cs := CaptureSource(cfg, source)
		rootsLast(cs.Tables, source, p.views)
		s := capture.NewStream(cs, capture.Options{Progress: snapshots.table(source, p.proc.opts.Progress),
			FailoverSlot: cfg.Capture.FailoverSlot, ReceiveTimeout: time.Duration(cfg.Capture.ReceiveTimeout),
			Marks: slotMarks{store: p.store, source: source}, SnapshotBudget: snapshotBudget,
			Chunks:   chunkOptions(cfg.Sources[source], p.store, source),
			SpillDir: spillDir(cfg.State.Dir, cs)}, p.proc.metrics.capture, p.log)
		streams[source] = s
		ordered = append(ordered, s)
	}
	snapshots.follow(ordered)
	return streams, ordered
}

// startStages runs the writer, the engine and every stream in lt's group.
// The engine stops the writer and the streams when it ends: after a
// shutdown, once everything it applied is acknowledged.
func (p *pipeline) startStages(lt *lifetimes, st *stages) {
	log := p.log
	lt.group.Go(func() error {
		if err := st.writer.Run(lt.writer); err != nil {
			p.proc.metrics.sink.CountError()
			return fmt.Errorf("sink: %w", err)
		}
		return nil
	})
	lt.group.Go(func() error {
		defer lt.stopWriter()
		defer lt.stopStreams()
		if err := st.engine.Run(lt.gctx, st.in.out()); err != nil {
			if lt.gctx.Err() == nil {
				p.proc.metrics.transform.CountError()
			}
			return fmt.Errorf("view engine: %w", err)
		}
		log.Info("every document applied so far is acknowledged; confirming positions")
		return nil
	})
	for _, s := range st.ordered {
		lt.group.Go(func() error {
			return p.capture(lt.streams, p.cfg.Capture.OnSlotLost, s, st.engine, st.in, log)
		})
	}
}

// startAux starts what watches the running pipeline: the monitor behind
// /readyz and the lag metrics, the rebuilds' alias moves, and the fences,
// whose loss ends life at once.
func (p *pipeline) startAux(lt *lifetimes, st *stages) *errgroup.Group {
	cfg, log := p.cfg, p.log
	p.setRebuilding(p.rebuilds)
	mm := &monitor{streams: st.ordered, checkpoint: st.engine.Checkpoint, stateErr: p.store.Err, maxLag: time.Duration(cfg.Readiness.MaxLag),
		rebuilding: p.rebuildingViews, backlog: st.engine.Backlog, schema: newSchemaWatch(p.schema, p.views),
		schemaErrors: p.proc.metrics.daemon.schemaErrors, restart: p.restart, metrics: p.proc.metrics.daemon, health: p.health, log: log,
		identity: newTableIdentity(p.store, st.ordered), replaced: p.replaced.add}
	p.proc.mon.Store(mm)
	aux, auxCtx := errgroup.WithContext(lt.aux)
	aux.Go(func() error { return mm.run(auxCtx, 2*time.Second) })
	p.proc.admin.started(auxCtx, p, st)
	aux.Go(func() error { return p.watchRebuilds(auxCtx, st.streams, st.engine.Checkpoint, log) })
	if p.fence != nil {
		aux.Go(func() error {
			select {
			case <-auxCtx.Done():
				return nil
			case <-p.fence.lost.Done():
			}
			err := p.fence.err()
			log.Error("another projector took the lock of a source; stopping at once, without writing anything more", "error", err)
			lt.endLife()
			return err
		})
	}
	return aux
}

// shutdownOn stops reading once ctx ends and gives what is in flight the
// grace period to become durable.
func (p *pipeline) shutdownOn(ctx context.Context, lt *lifetimes, st *stages) {
	cfg, log := p.cfg, p.log
	lt.group.Go(func() error {
		select {
		case <-ctx.Done():
		case <-lt.gctx.Done():
			return nil
		}
		log.Info("shutting down: no more changes are read; waiting for in-flight documents", "grace", cfg.Shutdown.Grace.String())
		st.in.close()
		st.grace = time.AfterFunc(time.Duration(cfg.Shutdown.Grace), func() {
			log.Warn("grace period over; exiting with documents still in flight (they are sent again on the next start)")
			lt.endLife()
		})
		return nil
	})
}

// wait waits for the stages, then stops the auxiliary tasks, and says how
// the run ended.
func (p *pipeline) wait(ctx context.Context, lt *lifetimes, st *stages, aux *errgroup.Group) error {
	err := lt.group.Wait()
	if st.grace != nil {
		st.grace.Stop()
	}
	lt.stopAux()
	if auxErr := aux.Wait(); err == nil {
		err = auxErr
	}
	if err != nil && ctx.Err() != nil && lt.life.Err() != nil {
		return nil // cut short by the grace period: nothing is lost
	}
	if err == nil {
		p.log.Info("stopped cleanly")
	}
	return err
}

// capture runs one source's stream into the engine. A lost slot either
// stops projector or, when configured, resets the source's state and asks
// for the pipeline to start over, which takes a new snapshot and rebuilds
// the source's views into new index versions.
func (p *pipeline) capture(ctx context.Context, onLost config.SlotLostAction, s *capture.Stream,
	engine *transform.Engine, in *feed, log *slog.Logger) error {
	name := s.Source().Name
	cp, err := engine.Checkpoint(name)
	if err != nil {
		return fmt.Errorf("read checkpoint of source %q: %w", name, err)
	}
	if !cp.SnapshotDone {
		log.Info("source needs an initial snapshot", "source", name)
	}
	err = s.RunWith(ctx, cp, in.send, in.trySend)
	switch {
	case ctx.Err() != nil:
		return nil
	case errors.Is(err, capture.ErrSlotLost) && onLost == config.SlotLostRebootstrap:
		log.Error("replication slot lost; taking a new snapshot of the source (capture.on_slot_lost: rebootstrap)",
			"source", name, "error", err)
		if err := p.store.ResetSource(name); err != nil {
			return err
		}
		return errRebootstrap
	case err != nil && !errors.Is(err, capture.ErrSlotLost) && !errors.Is(err, context.Canceled) &&
		capture.Classify(err) == capture.Permanent && p.rebuilt == nil:
		// Only this source stops: the others, and the views that do not
		// need it, keep running; /readyz and the metrics say why. A
		// rebuild (p.rebuilt set) fails instead: it could never finish.
		p.health.sourceFailed(name, err)
		return nil
	}
	return err
}

// slotMarks keeps a source's slot marks in the state, beside its
// checkpoint, so that the slot they describe is the state's own.
type slotMarks struct {
	store  *state.Store
	source string
}

func (m slotMarks) SlotMark() (capture.LSN, bool, error) { return m.store.SlotMark(m.source) }
func (m slotMarks) SetSlotMark(lsn capture.LSN) error    { return m.store.SetSlotMark(m.source, lsn) }

func writerOptions(cfg *config.Config) sink.WriterOptions {
	return sink.WriterOptions{
		BulkActions:   cfg.Sink.BulkActions,
		BulkBytes:     int(cfg.Sink.BulkBytes),
		FlushInterval: time.Duration(cfg.Sink.FlushInterval),
		Concurrency:   cfg.Sink.Concurrency,
		// The sink's share of the pipeline's memory budget.
		MaxBufferedBytes: budget.Default().Sink,
		// The engine waits for every acknowledgement before it stops the
		// writer; stopped earlier, the grace period is over and the
		// requests in flight are cancelled at once.
		NoDrain: true,
	}
}

func hasView(cfg *config.Config, name string) bool {
	for _, v := range cfg.Views {
		if v.Name == name {
			return true
		}
	}
	return false
}

// snapshotProgress adds up the progress of every table's snapshot, for
// the command line's progress bar, and tells /readyz which tables are
// being copied (see readiness).
type snapshotProgress struct {
	mu     sync.Mutex
	tables map[string][2]int64 // done, estimate
	// current is the table each source copies or copied last, streams
	// the running pipeline's streams, whose chunked copies it reports.
	current map[string]tableCount
	streams []*capture.Stream
}

func (sp *snapshotProgress) table(source string, report func(string, int64, int64)) func(capture.Table, int64, int64) {
	return func(t capture.Table, done, estimate int64) {
		sp.mu.Lock()
		sp.tables[source+":"+t.String()] = [2]int64{done, estimate}
		if sp.current == nil {
			sp.current = map[string]tableCount{}
		}
		sp.current[source] = tableCount{table: t, done: done, estimate: estimate}
		var d, e int64
		for _, v := range sp.tables {
			d, e = d+v[0], e+v[1]
		}
		sp.mu.Unlock()
		if report != nil {
			report("snapshot", d, e)
		}
	}
}

// rootsLast orders a source's tables for its snapshot: the root tables of
// views last, so that a view's other tables are copied by the time its
// root rows arrive, and its documents can be written as they do instead of
// after the whole snapshot.
func rootsLast(tables []capture.Table, source string, views []*transform.View) {
	root := map[capture.Table]bool{}
	for _, v := range views {
		if v.Root.Source == source {
			root[v.Root.Table] = true
		}
	}
	slices.SortStableFunc(tables, func(a, b capture.Table) int {
		switch {
		case root[a] == root[b]:
			return 0
		case root[b]:
			return -1
		}
		return 1
	})
}
