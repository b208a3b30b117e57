package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/projector-dev/projector/sink"
)

// SnapshotOptions sizes the snapshot benchmark.
type SnapshotOptions struct {
	Size ShopSize
	// BulkActions and Concurrency are projector's sink settings, used by
	// the loader too.
	BulkActions, Concurrency int
	// Rounds is how many times each contender runs; the order alternates.
	Rounds int
	// Baseline, when set, is another projector binary (an older build)
	// run on the same data in each round, next to projector (after it in
	// even rounds, before it in odd ones): two builds compared in one
	// run, on one data set, under the same load. Its runs are logged,
	// not reported.
	Baseline string
}

// SnapshotReport is the snapshot benchmark's result.
type SnapshotReport struct {
	Opts                SnapshotOptions
	Docs                int
	Projector, Loader   time.Duration // summed over the rounds
	ProjectorPeakRSS    float64       // bytes
	ProjectorCPUSeconds float64       // summed over the rounds
	// ProjectorBuilt is how many documents projector built and wrote per
	// run: more than Docs when a document is rewritten as its related rows
	// arrive.
	ProjectorBuilt float64
	// ProjectorCopy is the part of Projector before the first document was
	// built: copying and applying the snapshot (summed over the rounds).
	ProjectorCopy time.Duration
	// ProjectorCPU and LoaderCPU are where the machine's CPU time went
	// while each contender ran (summed over the rounds).
	ProjectorCPU, LoaderCPU CPUShare
}

// Rate is documents per second for a summed duration.
func (r SnapshotReport) Rate(d time.Duration) float64 {
	return float64(r.Docs*r.Opts.Rounds) / d.Seconds()
}

// snapshotPoll is how often the snapshot benchmark reads projector's
// metrics. Every read costs projector a rendering of all its metrics,
// the process collector's reads of /proc included (about half a
// millisecond of CPU): polled every 50 ms, a run that a loaded machine
// stretched to minutes spent seconds of its measured CPU serving the
// benchmark. A quarter second bounds the error of the timings as well.
const snapshotPoll = 250 * time.Millisecond

// snapshotRun carries what every round of the snapshot benchmark shares.
type snapshotRun struct {
	env    Env
	bin    string
	dir    string
	db     *Database
	search *searchClient
	prefix string
	opts   SnapshotOptions
	log    *slog.Logger
	runs   int
	docs   []storedDoc
	first  string // projector's first index, whose documents the loader loads
}

// RunSnapshot fills a database, then alternately has projector snapshot it
// into a fresh index and the loader bulk-load the same documents.
// With a profile path, one more snapshot runs untimed under the CPU
// profiler.
func RunSnapshot(ctx context.Context, env Env, bin, dir string, opts SnapshotOptions, profile string, log *slog.Logger) (SnapshotReport, error) {
	rep := SnapshotReport{Opts: opts, Docs: opts.Size.Orders}
	db, err := env.CreateDatabase(ctx)
	if err != nil {
		return rep, err
	}
	r := &snapshotRun{env: env, bin: bin, dir: dir, db: db, search: newSearchClient(env.SearchURL, opts.Concurrency),
		prefix: db.Name + "_", opts: opts, log: log}
	defer r.cleanup()
	started := time.Now()
	if err := createShop(ctx, db, opts.Size); err != nil {
		return rep, err
	}
	log.Info("snapshot data loaded", "database", db.Name, "orders", opts.Size.Orders, "took", time.Since(started).Round(time.Millisecond))
	for round := range opts.Rounds {
		projectorFirst := round%2 == 0
		for _, projector := range []bool{projectorFirst, !projectorFirst} {
			if projector {
				// The baseline runs after projector in even rounds and
				// before it in odd ones: a process's CPU seconds grow
				// with the wall time a loaded machine stretches it to.
				if err := r.baseline(ctx, round, round%2 == 1); err != nil {
					return rep, err
				}
				res, err := r.projector(ctx, r.bin)
				if err != nil {
					return rep, err
				}
				rep.Projector += res.elapsed
				rep.ProjectorCopy += res.copy
				rep.ProjectorCPUSeconds += res.cpu
				rep.ProjectorPeakRSS = max(rep.ProjectorPeakRSS, res.rss)
				rep.ProjectorBuilt = res.built
				rep.ProjectorCPU = rep.ProjectorCPU.add(res.share)
				res.log(log, "projector", round)
				if err := r.baseline(ctx, round, round%2 == 0); err != nil {
					return rep, err
				}
				continue
			}
			took, share, err := r.loader(ctx)
			if err != nil {
				return rep, err
			}
			rep.Loader += took
			rep.LoaderCPU = rep.LoaderCPU.add(share)
			log.Info("snapshot indexed", "contender", "loader", "round", round+1, "took", took.Round(time.Millisecond))
		}
	}
	if profile != "" {
		if err := r.profile(ctx, profile); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// baseline runs the baseline build when one is set and now is true.
func (r *snapshotRun) baseline(ctx context.Context, round int, now bool) error {
	if r.opts.Baseline == "" || !now {
		return nil
	}
	res, err := r.projector(ctx, r.opts.Baseline)
	if err != nil {
		return fmt.Errorf("baseline %s: %w", r.opts.Baseline, err)
	}
	res.log(r.log, "baseline", round)
	return nil
}

func (r *snapshotRun) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.search.deletePrefix(ctx, r.prefix); err != nil {
		r.log.Error("clean up", "error", err)
	}
	if err := r.db.Drop(); err != nil {
		r.log.Error("clean up", "error", err)
	}
}

type projectorRun struct {
	elapsed, copy   time.Duration
	cpu, rss, built float64
	share           CPUShare
}

// log records a run's measures: with a baseline, the log is where the two
// builds are compared.
func (res projectorRun) log(log *slog.Logger, contender string, round int) {
	log.Info("snapshot indexed", "contender", contender, "round", round+1, "took", res.elapsed.Round(time.Millisecond),
		"copy", res.copy.Round(time.Millisecond), "cpu_seconds", strconv.FormatFloat(res.cpu, 'f', 2, 64),
		"peak_rss_mib", int(res.rss/(1<<20)))
}

// projector runs `projector run`, built as bin, on a new slot and index
// prefix until every order's document is acknowledged by the engine.
func (r *snapshotRun) projector(ctx context.Context, bin string) (projectorRun, error) {
	var res projectorRun
	r.runs++
	name := r.db.Name + "_p" + strconv.Itoa(r.runs)
	listen, err := freeAddr()
	if err != nil {
		return res, err
	}
	cfg := shopConfig{DSN: r.db.DSN, Slot: name, SearchURL: r.env.SearchURL, Prefix: r.prefix + "p" + strconv.Itoa(r.runs) + "_",
		StateDir: filepath.Join(r.dir, name), Listen: listen, BulkActions: r.opts.BulkActions, Concurrency: r.opts.Concurrency}
	path, err := cfg.write(r.dir)
	if err != nil {
		return res, err
	}
	start := time.Now()
	cpu := startCPUSampler()
	defer cpu.finish()
	p, err := startProjector(bin, path, listen, filepath.Join(r.dir, name+".log"))
	if err != nil {
		return res, err
	}
	defer p.stop()
	var last metricSet
	done := completion{size: r.opts.Size}
	err = pollEvery(ctx, snapshotPoll, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("projector exited during the snapshot (%v); see %s.log", p.err, filepath.Join(r.dir, name))
		}
		m, err := p.metrics(ctx)
		if err != nil {
			return false, nil // not listening yet
		}
		last = m
		if res.copy == 0 && m.sum("projector_documents_built_total", nil) > 0 {
			res.copy = time.Since(start)
		}
		res.rss = max(res.rss, m.sum("process_resident_memory_bytes", nil))
		return done.seen(m), nil
	})
	res.elapsed = done.at.Sub(start)
	res.share = cpu.finish()
	if err != nil {
		return res, err
	}
	res.cpu = last.sum("process_cpu_seconds_total", nil)
	res.built = last.sum("projector_documents_built_total", nil)
	if err := p.stop(); err != nil {
		return res, fmt.Errorf("projector's exit: %w", err)
	}
	index := sink.IndexName(cfg.Prefix+shopView, 1)
	if err := r.checkCount(ctx, index); err != nil {
		return res, err
	}
	if r.first == "" {
		r.first = index
	}
	return res, nil
}

// loader bulk-loads the documents of projector's first index into a new
// index of the same shape. Reading and serialising them is not timed.
// It returns how long the load took and where the CPU went meanwhile.
func (r *snapshotRun) loader(ctx context.Context) (time.Duration, CPUShare, error) {
	if r.docs == nil {
		docs, err := readDocs(ctx, r.search, r.first)
		if err != nil {
			return 0, CPUShare{}, err
		}
		r.docs = docs
	}
	r.runs++
	index := r.prefix + "l" + strconv.Itoa(r.runs)
	if err := copyIndexShape(ctx, r.search, r.first, index); err != nil {
		return 0, CPUShare{}, err
	}
	bodies := bulkBodies(r.docs, index, r.opts.BulkActions, 5<<20)
	cpu := startCPUSampler()
	took, err := loadBulk(ctx, r.search, bodies, r.opts.Concurrency)
	share := cpu.finish()
	if err != nil {
		return took, share, err
	}
	return took, share, r.checkCount(ctx, index)
}

func (r *snapshotRun) checkCount(ctx context.Context, index string) error {
	n, err := r.search.count(ctx, index)
	if err != nil {
		return err
	}
	if n != r.opts.Size.Orders {
		return fmt.Errorf("index %s holds %d documents, want %d", index, n, r.opts.Size.Orders)
	}
	return nil
}

// completion recognises the end of a snapshot in projector's metrics:
// every snapshot row applied to the state, every document of the view
// written (indexed, or found there already at its version), and every
// document built also acknowledged, so none is in flight. Events are counted a moment before their documents are built,
// so the condition must hold on two scrapes in a row; the first one is
// when the snapshot was complete.
type completion struct {
	size ShopSize
	at   time.Time
}

func (c *completion) seen(m metricSet) bool {
	rows := float64(c.size.Orders + c.size.Customers + c.size.Orders*c.size.ItemsPerOrder)
	ok := m.sum("projector_events_applied_total", nil) >= rows &&
		// A bulk request retried after its first try reached the engine
		// finds its documents there at the same version: conflicts, which
		// are as written as indexed ones.
		m.sum("projector_documents_written_total", map[string]string{"action": "index"})+
			m.sum("projector_documents_written_total", map[string]string{"action": "conflict"}) >= float64(c.size.Orders) &&
		m.sum("projector_documents_built_total", nil) == m.sum("projector_documents_written_total", nil)
	switch {
	case !ok:
		c.at = time.Time{}
		return false
	case c.at.IsZero():
		c.at = time.Now()
		return false
	}
	return true
}
