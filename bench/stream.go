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

// StreamOptions sizes the streaming benchmark.
type StreamOptions struct {
	Size ShopSize
	// Rates are the transactions per second of the order-change phases; 0
	// means as fast as the server takes them.
	Rates []float64
	// FanoutRate is the customer renames per second of the fan-out phase.
	FanoutRate float64
	Duration   time.Duration
	Workers    int
	// BulkActions and Concurrency are projector's sink settings.
	BulkActions, Concurrency int
	// ProfilePath, when set, receives a CPU profile of projector taken
	// over the last order-change load (the unpaced one by default).
	ProfilePath string
	// Poll is how often projector's lag gauge and resident set are read
	// during a load; 100 ms when zero.
	Poll time.Duration
	// ProcOnly watches projector through /proc alone while a load runs:
	// its CPU time and resident set, no metrics scrapes (so no highest
	// lag), as a process without a metrics endpoint is watched. Its CPU
	// seconds then end at the last reading before the scrape that found it
	// caught up, so that the scrapes which find it are not charged to it.
	ProcOnly bool
	// probe, when set, times probe rows over each load (see lagProbe).
	probe *lagProbe
}

// StreamPhase is one write load while projector runs.
type StreamPhase struct {
	Name    string
	Fanout  bool    // customer renames, not order changes
	Offered float64 // transactions per second; 0 when unpaced
	// Written is what PostgreSQL achieved: transactions and row changes
	// per second over the load's duration.
	WrittenTPS, WrittenChanges float64
	// Captured is projector's rate over the same window plus the time it
	// needed to catch up after the load stopped.
	CapturedChanges float64
	Docs            float64 // documents written per second, same window
	CatchUp         time.Duration
	CaughtUp        bool
	// P50 and P99 are the bounds of the lag histogram's buckets the
	// percentiles fall in; Max is the highest lag polled.
	P50, P99   [2]float64
	Max        float64 // seconds of lag
	CPUPer1000 float64 // CPU seconds per 1,000 row changes
	CPUSeconds float64 // projector's CPU seconds over the load and its catch-up
	PeakRSS    float64 // bytes
	// ProbeLag are the probe rows' lags in seconds, when the load was
	// probed.
	ProbeLag []float64
	// CPU is where the machine's CPU time went over the same window.
	CPU CPUShare
}

// BareStream is the unpaced load once more, with a bare pglogrepl loop
// reading the changes in projector's place: the rate at which this
// machine's walsender delivers changes while PostgreSQL takes writes as
// fast as it can, the ceiling of any consumer.
type BareStream struct {
	WrittenTPS, WrittenChanges float64
	// ReadChanges is the loop's rate over the load plus the time it took
	// to read the rest.
	ReadChanges float64
	CatchUp     time.Duration
	CPU         CPUShare // over the load plus the time the loop took to read the rest
}

// StreamReport is the streaming benchmark's result.
type StreamReport struct {
	Opts   StreamOptions
	Phases []StreamPhase
	// Bare is the unpaced load read by a bare loop, when an unpaced load
	// ran.
	Bare  *BareStream
	VmHWM string // the process's peak resident set, from /proc
	// Profiled names the load the CPU profile covers, if one was taken.
	Profiled string
}

// RunStream starts projector on a filled database, waits until it is
// ready, then runs each write load and measures how projector follows.
func RunStream(ctx context.Context, env Env, bin, dir string, opts StreamOptions, log *slog.Logger) (StreamReport, error) {
	rep := StreamReport{Opts: opts}
	db, _, cleanup, err := env.scratch(ctx, log)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	if err := createShop(ctx, db, opts.Size); err != nil {
		return rep, err
	}
	listen, err := freeAddr()
	if err != nil {
		return rep, err
	}
	cfg := shopConfig{DSN: db.DSN, Slot: db.Name + "_s", SearchURL: env.SearchURL, Prefix: db.Name + "_",
		StateDir: filepath.Join(dir, db.Name), Listen: listen, BulkActions: opts.BulkActions, Concurrency: opts.Concurrency,
		Pprof: opts.ProfilePath != "", PprofToken: rand.Text()}
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
	if err := waitCaughtUp(ctx, p, opts.Size, 5*time.Minute); err != nil {
		return rep, fmt.Errorf("projector's snapshot of the streaming data set: %w", err)
	}
	load, err := newWriteLoad(ctx, db, opts.Size, opts.Workers)
	if err != nil {
		return rep, err
	}
	defer load.close()
	all := phases(opts)
	profiled := -1
	for i, ph := range all {
		if ph.kind == orderChanges && opts.ProfilePath != "" {
			profiled = i
		}
	}
	for i, ph := range all {
		profile := ""
		if i == profiled {
			profile = opts.ProfilePath
			rep.Profiled = ph.name
		}
		res, err := measurePhase(ctx, p, load, ph, opts, profile)
		if err != nil {
			return rep, err
		}
		log.Info("streaming phase", "phase", res.Name, "written_tps", math.Round(res.WrittenTPS),
			"captured_changes_per_s", math.Round(res.CapturedChanges), "p99_lag", res.P99[1], "max_lag", res.Max, "catch_up", res.CatchUp)
		rep.Phases = append(rep.Phases, res)
	}
	rep.VmHWM = vmHWM(p.cmd.Process.Pid)
	if !slices.Contains(opts.Rates, 0) {
		return rep, nil
	}
	if err := p.stop(); err != nil {
		return rep, err
	}
	bare, err := measureBare(ctx, db, load, opts)
	if err != nil {
		return rep, fmt.Errorf("unpaced load read by a bare loop: %w", err)
	}
	log.Info("streaming baseline", "phase", "unpaced, bare loop", "written_tps", math.Round(bare.WrittenTPS),
		"read_changes_per_s", math.Round(bare.ReadChanges), "catch_up", bare.CatchUp)
	rep.Bare = &bare
	return rep, nil
}

// measureBare runs the unpaced load while drainBare reads a slot of its
// own on the same tables, projector stopped and the search engine idle.
// A bench_end row written after the load tells the loop where to stop.
func measureBare(ctx context.Context, db *Database, load *writeLoad, opts StreamOptions) (BareStream, error) {
	var res BareStream
	slot := db.Name + "_bare"
	err := db.Exec(ctx, `CREATE TABLE bench_end (id int PRIMARY KEY);
		CREATE PUBLICATION `+drainPublication+` FOR TABLE customers, orders, order_items, bench_end`)
	if err != nil {
		return res, err
	}
	if err := db.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Duration+3*time.Minute)
	defer cancel()
	type drained struct {
		res drainResult
		err error
	}
	done := make(chan drained, 1)
	start := time.Now()
	cpu := startCPUSampler()
	defer cpu.finish()
	go func() {
		r, err := drainBare(ctx, db, slot)
		done <- drained{r, err}
	}()
	written, err := load.run(ctx, orderChanges, 0, opts.Duration, opts.Workers)
	loadEnd := time.Now()
	if err == nil {
		err = db.Exec(ctx, "INSERT INTO bench_end VALUES (1)")
	}
	if err != nil {
		cancel()
		<-done
		return res, err
	}
	d := <-done
	if d.err != nil {
		return res, d.err
	}
	end := time.Now()
	res.CPU = cpu.finish()
	res.WrittenTPS = float64(written.txns) / written.elapsed.Seconds()
	res.WrittenChanges = float64(written.changes) / written.elapsed.Seconds()
	res.ReadChanges = float64(d.res.rows-1) / end.Sub(start).Seconds() // less the bench_end row
	res.CatchUp = end.Sub(loadEnd)
	return res, nil
}

type phase struct {
	name string
	kind loadKind
	rate float64
}

// phases lists the loads in the order they run. The fan-out load comes
// first, while every customer has the specified number of orders: the
// order loads insert orders and would multiply its documents per rename.
func phases(opts StreamOptions) []phase {
	var out []phase
	if opts.FanoutRate > 0 {
		fan := opts.Size.Orders / opts.Size.Customers
		out = append(out, phase{name: fmt.Sprintf("fan-out %d renames/s x %d docs", int(opts.FanoutRate), fan), kind: customerRenames, rate: opts.FanoutRate})
	}
	for _, r := range opts.Rates {
		name := strconv.Itoa(int(r)) + " txn/s"
		if r == 0 {
			name = "unpaced"
		}
		out = append(out, phase{name: name, kind: orderChanges, rate: r})
	}
	return out
}

// waitCaughtUp waits until the snapshot of the data set is complete and
// no committed transaction is waiting for the index.
func waitCaughtUp(ctx context.Context, p *process, size ShopSize, within time.Duration) error {
	complete := completion{size: size}
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	return pollEvery(ctx, 50*time.Millisecond, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("projector exited: %v", p.err)
		}
		m, err := p.metrics(ctx)
		if err != nil {
			return false, nil
		}
		return complete.seen(m) && m.sum("projector_ready", nil) == 1 && m.max("projector_source_lag_seconds") == 0, nil
	})
}

// measurePhase runs one write load and measures how projector follows it;
// with a profile path, projector's CPU profile over the load is kept there.
func measurePhase(ctx context.Context, p *process, load *writeLoad, ph phase, opts StreamOptions, profile string) (StreamPhase, error) {
	res := StreamPhase{Name: ph.name, Fanout: ph.kind == customerRenames, Offered: ph.rate}
	// projector refreshes its lag gauge every 2 s: wait until it shows the
	// previous load's lag gone, so that it is not taken for this one's.
	settle, cancel := context.WithTimeout(ctx, 10*time.Second)
	_ = pollEvery(settle, 100*time.Millisecond, func() (bool, error) {
		m, err := p.metrics(settle)
		return err == nil && m.max("projector_source_lag_seconds") == 0, nil
	})
	cancel()
	before, err := p.metrics(ctx)
	if err != nil {
		return res, err
	}
	// A parallel poll catches the highest lag and resident set; the
	// histogram's buckets give the percentiles.
	poll := opts.Poll
	if poll == 0 {
		poll = 100 * time.Millisecond
	}
	pid := p.cmd.Process.Pid
	pollCtx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		_ = pollEvery(pollCtx, poll, func() (bool, error) {
			if opts.ProcOnly {
				res.PeakRSS = max(res.PeakRSS, vmRSS(pid))
				return false, nil
			}
			if m, err := p.metrics(pollCtx); err == nil {
				res.Max = max(res.Max, m.max("projector_source_lag_seconds"))
				res.PeakRSS = max(res.PeakRSS, m.sum("process_resident_memory_bytes", nil))
			}
			return false, nil
		})
	}()
	profiled := make(chan error, 1)
	if profile != "" {
		go func() { profiled <- p.cpuProfile(ctx, opts.Duration, profile) }()
	} else {
		profiled <- nil
	}
	_, ticksBefore, procOK := procCPU(pid)
	start := time.Now()
	cpu := startCPUSampler()
	defer cpu.finish()
	probed := make(chan error, 1)
	if opts.probe != nil {
		go func() {
			var err error
			res.ProbeLag, err = opts.probe.run(ctx, opts.Duration)
			probed <- err
		}()
	} else {
		probed <- nil
	}
	written, err := load.run(ctx, ph.kind, ph.rate, opts.Duration, opts.Workers)
	if perr := <-profiled; err == nil && perr != nil {
		err = fmt.Errorf("profile projector during %s: %w", ph.name, perr)
	}
	if perr := <-probed; err == nil && perr != nil {
		err = fmt.Errorf("probe projector's lag during %s: %w", ph.name, perr)
	}
	if err != nil {
		stopPoll()
		<-polled
		return res, err
	}
	loadEnd := time.Now()
	// Caught up: every change written is applied, and every document built
	// is acknowledged; as for the snapshot, on two scrapes in a row.
	want := before.sum("projector_events_applied_total", nil) + float64(written.changes)
	var caughtAt time.Time
	var ticksCaught int64 // projector's CPU ticks just before the scrape that set caughtAt
	err = pollEvery(ctx, 50*time.Millisecond, func() (bool, error) {
		_, ticks, ticked := procCPU(pid)
		procOK = procOK && ticked
		m, err := p.metrics(ctx)
		if err != nil {
			return false, err
		}
		ok := m.sum("projector_events_applied_total", nil) >= want &&
			m.sum("projector_documents_built_total", nil) == m.sum("projector_documents_written_total", nil)
		switch {
		case !ok:
			caughtAt = time.Time{}
		case caughtAt.IsZero():
			caughtAt, ticksCaught = time.Now(), ticks
		default:
			res.CaughtUp = true
		}
		return res.CaughtUp || time.Since(loadEnd) > 3*time.Minute, nil
	})
	end := time.Now()
	res.CPU = cpu.finish()
	if res.CaughtUp {
		end = caughtAt
	}
	res.CatchUp = end.Sub(loadEnd)
	window := end.Sub(start).Seconds()
	stopPoll()
	<-polled
	if err != nil {
		return res, err
	}
	after, err := p.metrics(ctx)
	if err != nil {
		return res, err
	}
	changes := after.sum("projector_changes_total", nil) - before.sum("projector_changes_total", nil)
	res.WrittenTPS = float64(written.txns) / written.elapsed.Seconds()
	res.WrittenChanges = float64(written.changes) / written.elapsed.Seconds()
	res.CapturedChanges = changes / window
	res.Docs = (after.sum("projector_documents_written_total", nil) - before.sum("projector_documents_written_total", nil)) / window
	lag := after.histogram("projector_view_lag_seconds").since(before.histogram("projector_view_lag_seconds"))
	res.P50, res.P99 = bucket(lag, 0.5), bucket(lag, 0.99)
	res.CPUSeconds = after.sum("process_cpu_seconds_total", nil) - before.sum("process_cpu_seconds_total", nil)
	if opts.ProcOnly {
		if !res.CaughtUp {
			_, ticksCaught, _ = procCPU(pid) // all it spent until the wait gave up
		}
		if !procOK {
			return res, fmt.Errorf("%s: read projector's CPU time from /proc/%d/stat", ph.name, pid)
		}
		res.CPUSeconds = float64(ticksCaught-ticksBefore) / userHZ
	}
	if changes > 0 {
		res.CPUPer1000 = res.CPUSeconds / changes * 1000
	}
	return res, nil
}

// vmHWM reads the peak resident set of a process from /proc.
func vmHWM(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// bucket is the lag histogram bucket of the q-quantile; NaN when nothing
// was observed.
func bucket(h histogram, q float64) [2]float64 {
	lower, upper, ok := h.quantile(q)
	if !ok {
		return [2]float64{math.NaN(), math.NaN()}
	}
	return [2]float64{lower, upper}
}
