package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// ChunkRateRun is one snapshot of the chunk-rate benchmark's table.
type ChunkRateRun struct {
	// Mode is the source's snapshot.mode: exported or chunked.
	Mode string
	// Took is from the start to readiness; CPUSeconds projector's CPU time
	// until then; Rows the rows the snapshot copied.
	Took       time.Duration
	CPUSeconds float64
	Rows       float64
}

// RowsPerSecond is the copy's rate.
func (r ChunkRateRun) RowsPerSecond() float64 {
	if r.Took <= 0 {
		return 0
	}
	return r.Rows / r.Took.Seconds()
}

// CPUPerMillion is projector's CPU seconds per million rows copied.
func (r ChunkRateRun) CPUPerMillion() float64 {
	if r.Rows <= 0 {
		return 0
	}
	return r.CPUSeconds / r.Rows * 1e6
}

// ChunkRateReport compares a chunked snapshot of one table with an
// exported one of the same table, in the same run, under the same paced
// write load.
type ChunkRateReport struct {
	Options ChunkedOptions
	// Exported and Chunked are the two snapshots.
	Exported, Chunked ChunkRateRun
}

// RunChunkRate snapshots one table twice, exported and then in chunks,
// each time with a fresh slot, state and index, while the paced write load
// of the chunked benchmark runs, and reports the rate and CPU of each.
func RunChunkRate(ctx context.Context, env Env, bin, dir string, opts ChunkedOptions, log *slog.Logger) (ChunkRateReport, error) {
	rep := ChunkRateReport{Options: opts}
	log.Info("loading the chunk-rate table", "rows", opts.Rows)
	db, _, cleanup, err := accountsDatabase(ctx, env, opts.Rows, log)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	prefix := db.Name + "_"
	if err := db.Exec(ctx, `VACUUM accounts`); err != nil {
		return rep, err
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	writes := make(chan int64, 1)
	go func() { writes <- pacedWrites(loadCtx, db.DSN, opts.WriteRate, int64(opts.Rows), log) }()
	for _, mode := range []string{"exported", "chunked"} {
		run, err := chunkRateRun(ctx, env, bin, dir, db, prefix, mode, opts)
		if err != nil {
			return rep, err
		}
		log.Info("snapshot copied", "mode", mode, "rows", run.Rows, "took", run.Took.Round(time.Millisecond),
			"rows_per_second", int(run.RowsPerSecond()), "cpu_seconds_per_million_rows", run.CPUPerMillion())
		if mode == "exported" {
			rep.Exported = run
		} else {
			rep.Chunked = run
		}
	}
	stopLoad()
	<-writes
	return rep, nil
}

// chunkRateRun runs projector on db with a slot, state and index of
// mode's own until it is ready, and stops it.
func chunkRateRun(ctx context.Context, env Env, bin, dir string, db *Database, prefix, mode string, opts ChunkedOptions) (ChunkRateRun, error) {
	run := ChunkRateRun{Mode: mode}
	listen, err := freeAddr()
	if err != nil {
		return run, err
	}
	slot := db.Name + "_" + mode
	cfg := fmt.Sprintf(`sources:
  db: { dsn: %q, slot: %s, snapshot: { mode: %s, chunk_rows: %d } }
sink:
  urls: [%q]
  index_prefix: %s%s_
  bulk_actions: %d
  concurrency: %d
state: { dir: %q }
http: { listen: %q, pprof: %t, pprof_token_file: %q }
views:
  - name: accounts
    root: { source: db, table: accounts }
`, db.DSN, slot, mode, opts.ChunkRows, env.SearchURL, prefix, mode, opts.BulkActions, opts.Concurrency, filepath.Join(dir, slot), listen,
		opts.ProfileDir != "", filepath.Join(dir, slot+".token"))
	token := rand.Text()
	if err := os.WriteFile(filepath.Join(dir, slot+".token"), []byte(token), 0o600); err != nil {
		return run, fmt.Errorf("write the chunk-rate benchmark's profiling token: %w", err)
	}
	path := filepath.Join(dir, slot+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return run, fmt.Errorf("write the chunk-rate benchmark's configuration: %w", err)
	}
	start := time.Now()
	p, err := startProjector(bin, path, listen, filepath.Join(dir, slot+".log"))
	if err != nil {
		return run, err
	}
	defer p.stop()
	p.pprofToken = token
	profiled := make(chan error, 1)
	profileCtx, stopProfile := context.WithCancel(ctx)
	defer stopProfile()
	if opts.ProfileDir != "" {
		// The middle of the copy: after the start, before the end of a
		// copy of a few hundred thousand rows.
		go func() {
			select {
			case <-profileCtx.Done():
				profiled <- nil
				return
			case <-time.After(15 * time.Second):
			}
			profiled <- p.cpuProfile(profileCtx, 30*time.Second, filepath.Join(opts.ProfileDir, "chunkrate-"+mode+".pprof"))
		}()
	} else {
		profiled <- nil
	}
	var last metricSet
	err = pollEvery(ctx, 100*time.Millisecond, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("projector exited during the %s snapshot (%v); see %s.log", mode, p.err, filepath.Join(dir, slot))
		}
		if !p.ready(ctx) {
			return false, nil
		}
		m, err := p.metrics(ctx)
		if err != nil {
			return false, nil // not listening yet
		}
		last = m
		return true, nil
	})
	if err != nil {
		return run, err
	}
	run.Took = time.Since(start)
	run.CPUSeconds = last.sum("process_cpu_seconds_total", nil)
	run.Rows = last.sum("projector_snapshot_rows_total", nil)
	if err := <-profiled; err != nil {
		return run, fmt.Errorf("profile the %s snapshot: %w", mode, err)
	}
	return run, nil
}

// writeChunkRate renders the chunked-against-exported comparison.
func (r *Report) writeChunkRate(p printer) {
	c := r.ChunkRate
	o := c.Options
	p("")
	p("## 10. Chunked snapshot against exported")
	p("")
	p("One table of %s rows (a bigint key and three columns), snapshotted twice in the same run with a", thousands(float64(o.Rows)))
	p("fresh slot, state and index each time: exported, then `snapshot: { mode: chunked, chunk_rows: %d }`,", o.ChunkRows)
	p("while %.0f transactions per second update, insert and delete its rows. Time is from the start to", o.WriteRate)
	p("readiness; CPU is projector's until then.")
	p("")
	p("| mode | rows | time to ready | rows/s | projector CPU | CPU s per 1 M rows |")
	p("| --- | --- | --- | --- | --- | --- |")
	for _, run := range []ChunkRateRun{c.Exported, c.Chunked} {
		p("| %s | %s | %s | %s | %s | %.1f |", run.Mode, thousands(run.Rows), run.Took.Round(100*time.Millisecond),
			thousands(run.RowsPerSecond()), seconds(run.CPUSeconds), run.CPUPerMillion())
	}
	if c.Exported.RowsPerSecond() > 0 && c.Exported.CPUPerMillion() > 0 {
		p("")
		p("Chunked : exported: rate %.2f, CPU per row %.2f.", c.Chunked.RowsPerSecond()/c.Exported.RowsPerSecond(),
			c.Chunked.CPUPerMillion()/c.Exported.CPUPerMillion())
	}
}
