package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LeanOptions sizes the single-table streaming benchmark: the job of a
// plain replicator (one table, no joins, a light write load), where what
// counts is what the daemon costs while it has little to do.
type LeanOptions struct {
	// Rows are the table's rows before the loads, copied by the snapshot.
	Rows int
	// Rates are the inserts per second of each load, one row per
	// transaction.
	Rates    []float64
	Duration time.Duration // of each load
	// Idle is how long the daemon is watched with no writes at all once
	// the loads are followed.
	Idle    time.Duration
	Workers int
	// BulkActions and Concurrency are projector's sink settings.
	BulkActions, Concurrency int
	// ProfileDir, when set, receives CPU profiles of projector over the
	// first load (lean-load.pprof) and the idle time (idle.pprof), and a
	// heap profile once the snapshot is indexed (lean-snapshot.heap).
	ProfileDir string
	// Pgstream, when set, is the path of a pgstream binary (the
	// operator's own build) to run each load against too, on a database
	// of its own on the same server, in turn with projector.
	Pgstream string
	// PgstreamBatchTimeout is pgstream's search batch timeout.
	PgstreamBatchTimeout time.Duration
}

// LeanReport is the single-table benchmark's result.
type LeanReport struct {
	Opts   LeanOptions
	Phases []StreamPhase
	// LagP50 and LagP99 are each phase's lag quantiles in seconds,
	// interpolated within the histogram bucket they fall in (as
	// Prometheus' histogram_quantile does), to set beside a single
	// figure such as pgstream's; NaN when nothing was observed.
	LagP50, LagP99 []float64
	// IdleCPU is projector's CPU seconds per minute with nothing written.
	IdleCPU float64
	// IdleRSS is the resident set at the end of the idle minute, in bytes.
	IdleRSS float64
	VmHWM   string // the process's peak resident set, snapshot included
	// Pgstream is the same-run baseline, when one ran; the phases then
	// carry projector's probe lags too.
	Pgstream *PgstreamBaseline
}

// leanTable is the benchmark's one table.
const leanTable = "events"

// RunLean starts projector on one filled table, waits until it has copied
// it, then runs each insert load and measures how projector follows, and
// finally how much CPU it spends while nothing is written.
func RunLean(ctx context.Context, env Env, bin, dir string, opts LeanOptions, log *slog.Logger) (LeanReport, error) {
	rep := LeanReport{Opts: opts}
	db, search, cleanup, err := env.scratch(ctx, log)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	err = db.Exec(ctx, fmt.Sprintf(`
		CREATE TABLE %[1]s (id int8 PRIMARY KEY, kind text NOT NULL, amount int8 NOT NULL, created_at timestamptz NOT NULL);
		INSERT INTO %[1]s SELECT g, (ARRAY['click','view','buy'])[1 + g %% 3], g %% 10000,
			timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, %[2]d) g;
		ANALYZE`, leanTable, opts.Rows))
	if err != nil {
		return rep, err
	}
	listen, err := freeAddr()
	if err != nil {
		return rep, err
	}
	cfg := leanConfig{DSN: db.DSN, Slot: db.Name + "_s", SearchURL: env.SearchURL, Prefix: db.Name + "_",
		StateDir: filepath.Join(dir, db.Name), Listen: listen, BulkActions: opts.BulkActions, Concurrency: opts.Concurrency,
		Pprof: opts.ProfileDir != "", PprofToken: rand.Text()}
	path, err := cfg.write(dir)
	if err != nil {
		return rep, err
	}
	p, err := startProjector(bin, path, listen, filepath.Join(dir, cfg.Slot+".log"))
	if err != nil {
		return rep, err
	}
	defer p.stop()
	p.pprofToken = cfg.PprofToken
	// One table: its rows are the roots, each its own document.
	size := ShopSize{Orders: opts.Rows}
	if err := waitCaughtUp(ctx, p, size, 5*time.Minute); err != nil {
		return rep, fmt.Errorf("projector's snapshot of the single table: %w", err)
	}
	if path := profileIn(opts.ProfileDir, "lean-snapshot.heap"); path != "" {
		if err := p.heapProfile(ctx, path); err != nil {
			return rep, fmt.Errorf("heap profile after the snapshot: %w", err)
		}
	}
	load, err := newWriteLoad(ctx, db, size, opts.Workers)
	if err != nil {
		return rep, err
	}
	defer load.close()
	// A light load is watched through /proc, as a replicator without a
	// metrics endpoint is: scraping projector's metrics during the load
	// would charge it CPU that the load does not cost.
	streamOpts := StreamOptions{Duration: opts.Duration, Workers: opts.Workers, Poll: time.Second, ProcOnly: true}
	var pg *pgstreamRun
	var pgLoad *writeLoad
	if opts.Pgstream != "" {
		// Started once projector has copied its table, so that the two
		// copies do not share the machine.
		if pg, err = startPgstream(ctx, env, opts.Pgstream, dir, opts, log); err != nil {
			return rep, err
		}
		defer pg.cleanup()
		rep.Pgstream = &PgstreamBaseline{Version: pgstreamVersion(ctx, opts.Pgstream), BatchTimeout: opts.PgstreamBatchTimeout}
		if pgLoad, err = newWriteLoad(ctx, &Database{Name: pg.db.Name, DSN: pg.dsn}, size, opts.Workers); err != nil {
			return rep, err
		}
		defer pgLoad.close()
		index := "/" + cfg.Prefix + leanTable + "/_doc/"
		probe, err := newLagProbe(ctx, db.DSN, search, func(id int64) string { return index + strconv.FormatInt(id, 10) })
		if err != nil {
			return rep, err
		}
		defer probe.close()
		streamOpts.probe = probe
	}
	// Projector's store may still be compacting what the snapshot wrote:
	// charged to the first load, that would make whoever runs first pay
	// for it. Wait until both are quiet, within bounds.
	settleCPU(ctx, p.cmd.Process.Pid, log)
	if pg != nil {
		settleCPU(ctx, pg.proc.cmd.Process.Pid, log)
	}
	for i, rate := range opts.Rates {
		ph := phase{name: strconv.Itoa(int(rate)) + " inserts/s", kind: singleInserts, rate: rate}
		// In turn, projector first in even loads and pgstream in odd ones,
		// so that neither always follows the other.
		projectorFirst := i%2 == 0
		if pg != nil && !projectorFirst {
			if err := rep.Pgstream.measure(ctx, pg, pgLoad, ph, opts, log); err != nil {
				return rep, err
			}
		}
		profile := ""
		if i == 0 {
			profile = profileIn(opts.ProfileDir, "lean-load.pprof")
		}
		before, err := p.metrics(ctx)
		if err != nil {
			return rep, err
		}
		res, err := measurePhase(ctx, p, load, ph, streamOpts, profile)
		if err != nil {
			return rep, err
		}
		after, err := p.metrics(ctx)
		if err != nil {
			return rep, err
		}
		lag := after.histogram("projector_view_lag_seconds").since(before.histogram("projector_view_lag_seconds"))
		p50, p99 := lag.interpolate(0.5), lag.interpolate(0.99)
		log.Info("single-table phase", "phase", res.Name, "written_tps", math.Round(res.WrittenTPS),
			"cpu_s", res.CPUSeconds, "p50_lag", p50, "p99_lag", p99, "peak_rss", res.PeakRSS)
		rep.Phases = append(rep.Phases, res)
		rep.LagP50, rep.LagP99 = append(rep.LagP50, p50), append(rep.LagP99, p99)
		if pg != nil && projectorFirst {
			if err := rep.Pgstream.measure(ctx, pg, pgLoad, ph, opts, log); err != nil {
				return rep, err
			}
		}
		if pg != nil {
			first := "pgstream"
			if projectorFirst {
				first = "projector"
			}
			rep.Pgstream.First = append(rep.Pgstream.First, first)
		}
	}
	if pg != nil {
		rep.Pgstream.VmHWM = vmHWM(pg.proc.cmd.Process.Pid)
	}
	if opts.Idle > 0 {
		if rep.IdleCPU, rep.IdleRSS, err = measureIdle(ctx, p, opts.Idle, profileIn(opts.ProfileDir, "idle.pprof")); err != nil {
			return rep, err
		}
		log.Info("single-table idle", "cpu_s_per_minute", rep.IdleCPU, "rss", rep.IdleRSS)
	}
	rep.VmHWM = vmHWM(p.cmd.Process.Pid)
	return rep, nil
}

// settleQuiet and settleMax bound the wait for a process to go quiet
// before the loads: it is quiet once it used at most settleQuietTicks of
// CPU over settleQuiet.
const (
	settleQuiet      = 3 * time.Second
	settleQuietTicks = 3 // 0.01 CPU s per second
	settleMax        = time.Minute
)

// settleCPU waits, for at most settleMax, until the process pid has been
// quiet for settleQuiet; a process that does not go quiet is logged and
// the loads start anyway.
func settleCPU(ctx context.Context, pid int, log *slog.Logger) {
	start := time.Now()
	wait, cancel := context.WithTimeout(ctx, settleMax)
	defer cancel()
	_, prev, ok := procCPU(pid)
	if !ok {
		return
	}
	err := pollEvery(wait, settleQuiet, func() (bool, error) {
		_, ticks, ok := procCPU(pid)
		if !ok {
			return true, nil
		}
		quiet := ticks-prev <= settleQuietTicks && time.Since(start) >= settleQuiet
		prev = ticks
		return quiet, nil
	})
	if err != nil {
		log.Warn("process still busy before the loads", "pid", pid, "waited", time.Since(start).Round(time.Second))
		return
	}
	log.Info("process quiet before the loads", "pid", pid, "waited", time.Since(start).Round(time.Second))
}

// measureIdle waits until projector shows no lag, then returns the CPU
// seconds per minute it spends over d with nothing written, and its
// resident set at the end; with a profile path, projector's CPU profile
// over that time is kept there.
func measureIdle(ctx context.Context, p *process, d time.Duration, profile string) (cpuPerMinute, rss float64, err error) {
	settle, cancel := context.WithTimeout(ctx, 10*time.Second)
	_ = pollEvery(settle, 100*time.Millisecond, func() (bool, error) {
		m, err := p.metrics(settle)
		return err == nil && m.max("projector_source_lag_seconds") == 0, nil
	})
	cancel()
	pid := p.cmd.Process.Pid
	_, ticksBefore, ok1 := procCPU(pid)
	if profile != "" {
		if err := p.cpuProfile(ctx, d, profile); err != nil {
			return 0, 0, fmt.Errorf("profile idle projector: %w", err)
		}
	} else {
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(d):
		}
	}
	_, ticksAfter, ok2 := procCPU(pid)
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("read projector's CPU time from /proc/%d/stat", pid)
	}
	used := float64(ticksAfter-ticksBefore) / userHZ
	return used / d.Minutes(), vmRSS(pid), nil
}

// interpolate estimates the q-quantile in seconds by linear
// interpolation within its bucket, taking the first bucket to start at
// zero; NaN when nothing was observed, the last bound beyond it.
func (h histogram) interpolate(q float64) float64 {
	if h.count == 0 {
		return math.NaN()
	}
	rank := q * float64(h.count)
	lower, below := 0.0, uint64(0)
	for i, bound := range h.bounds {
		if c := h.cumulative[i]; float64(c) >= rank {
			if c == below {
				return bound
			}
			return lower + (bound-lower)*(rank-float64(below))/float64(c-below)
		}
		lower, below = bound, h.cumulative[i]
	}
	return lower
}

// profileIn is the path of a profile named name in dir, or "" for none
// when dir is "".
func profileIn(dir, name string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}

// leanConfig is projector's configuration for the single table: one view
// whose documents are its rows.
type leanConfig struct {
	DSN, Slot, SearchURL, Prefix, StateDir, Listen string
	BulkActions, Concurrency                       int
	Pprof                                          bool   // serve /debug/pprof/
	PprofToken                                     string // bearer token for /debug/pprof/, when Pprof
}

func (c leanConfig) write(dir string) (string, error) {
	tokenFile := `""`
	if c.Pprof {
		tokenFile = filepath.Join(dir, c.Slot+".pprof-token")
		if err := os.WriteFile(tokenFile, []byte(c.PprofToken), 0o600); err != nil {
			return "", fmt.Errorf("write profiling token: %w", err)
		}
	}
	yaml := fmt.Sprintf(`
sources:
  app: { dsn: %q, slot: %s, publication: %s }
sink:
  urls: [%q]
  index_prefix: %s
  bulk_actions: %d
  concurrency: %d
state:
  dir: %s
http:
  listen: %s
  pprof: %t
  pprof_token_file: %s
views:
  - name: %s
    root: { source: app, table: %s }
    fields: [id, kind, amount, created_at]
`, c.DSN, c.Slot, c.Slot, c.SearchURL, c.Prefix, c.BulkActions, c.Concurrency, c.StateDir, c.Listen, c.Pprof, tokenFile, leanTable, leanTable)
	path := filepath.Join(dir, c.Slot+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return "", fmt.Errorf("write projector configuration: %w", err)
	}
	return path, nil
}

func (r *Report) writeLean(p printer) {
	l := r.Lean
	o := l.Opts
	p("")
	p("## 4. Single-table streaming")
	p("")
	p("The job of a plain replicator: one table of %s rows (four columns, each row its own document, no joins) is copied,", thousands(float64(o.Rows)))
	p("then rows are inserted at a fixed rate, one per transaction, for %s per load with %d connections; after the loads the", o.Duration, o.Workers)
	p("daemon is watched for %s with nothing written. CPU seconds and the resident set are projector's own, read from /proc as for any", o.Idle)
	p("process (utime + stime of `/proc/<pid>/stat` from the load's start until projector caught up, `VmRSS` polled every second);")
	p("its metrics are not scraped while a load runs, so that the scrapes are not charged to it. Lag percentiles are the")
	p("`projector_view_lag_seconds` buckets they fall in.")
	p("")
	p("| load | written txn/s | catch-up | lag p50 | lag p99 | lag p50, p99 (interpolated) | CPU s | CPU s / 1k changes | peak RSS |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for i, ph := range l.Phases {
		caught := ph.CatchUp.Round(100 * time.Millisecond).String()
		if !ph.CaughtUp {
			caught = "> " + caught
		}
		interpolated := "-"
		if i < len(l.LagP50) && !math.IsNaN(l.LagP50[i]) {
			interpolated = fmt.Sprintf("%.3f s, %.3f s", l.LagP50[i], l.LagP99[i])
		}
		p("| %s | %s | %s | %s | %s | %s | %.2f | %.3f | %s |", ph.Name, thousands(ph.WrittenTPS), caught, span(ph.P50), span(ph.P99),
			interpolated, ph.CPUSeconds, ph.CPUPer1000, mib(ph.PeakRSS))
	}
	if o.Idle > 0 {
		p("| idle | 0 | - | - | - | - | %.2f per minute | - | %s |", l.IdleCPU, mib(l.IdleRSS))
	}
	p("")
	if l.Pgstream == nil {
		p("Peak resident set of the process over the whole run (VmHWM, snapshot included): %s. For comparison, pgstream 1.4.1 on the", l.VmHWM)
		p("same job at 50 inserts/s for 60 s (measured once, not by this program) used 1.56 CPU s, 125 MiB peak RSS and had a 0.102 s lag p50.")
		return
	}
	p("Peak resident set of the process over the whole run (VmHWM, snapshot included): %s.", l.VmHWM)
	l.writePgstream(p)
}

// writePgstream renders the same-run pgstream baseline beside projector's
// figures, with the ratios projector : pgstream.
func (l *LeanReport) writePgstream(p printer) {
	b := l.Pgstream
	p("")
	p("Same-run baseline: pgstream `%s` (the operator's build, `-lean-pgstream`) followed each load too, on a database of its own", b.Version)
	p("on the same server with the same table and rows, in its own index, in turn with projector (who ran first alternates). It streams the")
	p("rows from its slot (wal2json, which the server must have), search batches of up to %d documents sent at least every %s", l.Opts.BulkActions, b.BatchTimeout)
	p("(`-lean-pgstream-batch-timeout`), injector on; its index is created for it as pgstream creates it less OpenSearch's k-NN settings.")
	p("Both are measured the same way: CPU seconds and VmRSS from /proc as above; pgstream has caught up when a row written after the load")
	p("is found. Lag is the same probe for both, since pgstream has no lag metric: a row inserted every %s and a random part of %s (so that its phase against a batch timer varies) during the load, timed from its", probeEvery, probeJitter)
	p("commit until a real-time get by id (polled every 10 ms) finds its document, that is until the engine has it, before a refresh makes it")
	p("searchable. Ratios are projector : pgstream, below 1 where projector uses less.")
	p("")
	p("| load | replicator | ran | written txn/s | catch-up | probe lag p50 | probe lag p99 | probes | CPU s | peak RSS |")
	p("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var names []string
	var ratios []leanRatio
	for i, ph := range l.Phases {
		if i >= len(b.Phases) {
			break
		}
		pg := b.Phases[i]
		first := "-"
		if i < len(b.First) {
			first = b.First[i]
		}
		order := map[bool]string{true: "first", false: "second"}
		p("| %s | projector | %s | %s | %s | %s | %s | %d | %.2f | %s |", ph.Name, order[first == "projector"], thousands(ph.WrittenTPS),
			catchUp(ph.CatchUp, ph.CaughtUp), millis(lagQuantile(ph.ProbeLag, 0.5)), millis(lagQuantile(ph.ProbeLag, 0.99)), len(ph.ProbeLag), ph.CPUSeconds, mib(ph.PeakRSS))
		p("| %s | pgstream | %s | %s | %s | %s | %s | %d | %.2f | %s |", pg.Name, order[first == "pgstream"], thousands(pg.WrittenTPS),
			catchUp(pg.CatchUp, pg.CaughtUp), millis(lagQuantile(pg.ProbeLag, 0.5)), millis(lagQuantile(pg.ProbeLag, 0.99)), len(pg.ProbeLag), pg.CPUSeconds, mib(pg.PeakRSS))
		r := leanRatios(ph, pg)
		p("| %s | **projector : pgstream** | | | | %s | %s | | %s | %s |", ph.Name, ratio(r.lagP50), ratio(r.lagP99), ratio(r.cpu), ratio(r.rss))
		names, ratios = append(names, ph.Name), append(ratios, r)
	}
	p("")
	p("pgstream's peak resident set over the whole run (VmHWM, its copy of the table included): %s.", b.VmHWM)
	for _, m := range medianRatios(names, ratios) {
		if m.name != "50 inserts/s" {
			continue
		}
		p("Goal at 50 inserts/s (issue #20: projector's CPU s, peak RSS and lag p50 at most pgstream's), on the median ratios of %s: %s.",
			m.loads(), m.median.verdict())
	}
}

// leanMedian is the median projector : pgstream ratios over the loads of
// one name (rate), with each load's ratios.
type leanMedian struct {
	name   string
	each   []leanRatio
	median leanRatio
}

// loads describes the loads a median was taken over, with each one's CPU
// ratio.
func (m leanMedian) loads() string {
	cpu := make([]string, len(m.each))
	for i, r := range m.each {
		cpu[i] = ratio(r.cpu)
	}
	if len(m.each) == 1 {
		return "1 load (CPU " + cpu[0] + ")"
	}
	return fmt.Sprintf("%d loads (CPU %s)", len(m.each), strings.Join(cpu, ", "))
}

// medianRatios groups the loads' ratios by load name, in the order the
// names first appear, and takes the median of each ratio within a group:
// who ran first alternates from load to load, so the median of repeated
// loads of one rate is not biased towards either replicator. A ratio not
// measured in a load is left out of its median; NaN when none was.
func medianRatios(names []string, ratios []leanRatio) []leanMedian {
	var out []leanMedian
	for i, name := range names {
		j := slices.IndexFunc(out, func(m leanMedian) bool { return m.name == name })
		if j < 0 {
			out, j = append(out, leanMedian{name: name}), len(out)
		}
		out[j].each = append(out[j].each, ratios[i])
	}
	for i := range out {
		field := func(f func(leanRatio) float64) float64 {
			var v []float64
			for _, r := range out[i].each {
				if x := f(r); !math.IsNaN(x) {
					v = append(v, x)
				}
			}
			return median(v)
		}
		out[i].median = leanRatio{
			cpu:    field(func(r leanRatio) float64 { return r.cpu }),
			rss:    field(func(r leanRatio) float64 { return r.rss }),
			lagP50: field(func(r leanRatio) float64 { return r.lagP50 }),
			lagP99: field(func(r leanRatio) float64 { return r.lagP99 }),
		}
	}
	return out
}

// median is the middle of v, the mean of the two middle values for an
// even count; NaN for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// leanRatio holds projector : pgstream ratios of one load; NaN where
// pgstream's figure is missing or zero.
type leanRatio struct {
	cpu, rss, lagP50, lagP99 float64
}

func leanRatios(projector StreamPhase, pgstream BaselinePhase) leanRatio {
	div := func(a, b float64) float64 {
		if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
			return math.NaN()
		}
		return a / b
	}
	return leanRatio{
		cpu:    div(projector.CPUSeconds, pgstream.CPUSeconds),
		rss:    div(projector.PeakRSS, pgstream.PeakRSS),
		lagP50: div(lagQuantile(projector.ProbeLag, 0.5), lagQuantile(pgstream.ProbeLag, 0.5)),
		lagP99: div(lagQuantile(projector.ProbeLag, 0.99), lagQuantile(pgstream.ProbeLag, 0.99)),
	}
}

// verdict tells whether projector used at most pgstream's CPU, peak RSS
// and lag p50, and which it did not.
func (r leanRatio) verdict() string {
	var over []string
	for _, c := range []struct {
		name  string
		ratio float64
	}{{"CPU", r.cpu}, {"peak RSS", r.rss}, {"lag p50", r.lagP50}} {
		switch {
		case math.IsNaN(c.ratio):
			over = append(over, c.name+" not measured")
		case c.ratio > 1:
			over = append(over, fmt.Sprintf("%s %.2f", c.name, c.ratio))
		}
	}
	if len(over) == 0 {
		return fmt.Sprintf("**met** (CPU %.2f, peak RSS %.2f, lag p50 %.2f)", r.cpu, r.rss, r.lagP50)
	}
	return "**not met** (" + strings.Join(over, ", ") + ")"
}

func ratio(r float64) string {
	if math.IsNaN(r) {
		return "-"
	}
	return fmt.Sprintf("%.2f", r)
}

// millis formats seconds to the millisecond, "-" for NaN.
func millis(s float64) string {
	if math.IsNaN(s) {
		return "-"
	}
	return fmt.Sprintf("%.3f s", s)
}

func catchUp(d time.Duration, caughtUp bool) string {
	s := d.Round(100 * time.Millisecond).String()
	if !caughtUp {
		s = "> " + s
	}
	return s
}
