package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/projector-dev/projector/bench"
)

// options are the command line; every size has a flag so that bigger
// machines can run bigger benchmarks.
type options struct {
	settings             []string
	out, only, benchtime string
	merge                bool
	env                  bench.Env
	drain                bench.DrainSize
	snapshot             bench.SnapshotOptions
	stream               bench.StreamOptions
	events               bench.EventsOptions
	chunked              bench.ChunkedOptions
	hugeTxn              bench.HugeTxnOptions
	rates                string
	lean                 bench.LeanOptions
	leanRates            string
	ryw                  bench.RYWOptions
	rywRates             string
	profileSnapshot      bool
	profileDir           string
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("projector-bench", flag.ContinueOnError)
	fs.StringVar(&o.out, "out", "docs/benchmarks.md", "markdown file to write the results to (- for standard output)")
	fs.BoolVar(&o.merge, "merge", false, "replace only the sections this run measured in the existing -out file, keeping the others (for -only runs)")
	fs.StringVar(&o.only, "only", "drain,snapshot,chunked,stream,lean,hugetxn,ryw,events,micro", "benchmarks to run, comma-separated")
	fs.StringVar(&o.benchtime, "benchtime", "2s", "-benchtime of the micro benchmarks")
	fs.StringVar(&o.env.AdminDSN, "pg", envOr("PROJECTOR_TEST_PG", "postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable"),
		"PostgreSQL maintenance database DSN (env PROJECTOR_TEST_PG)")
	fs.StringVar(&o.env.SearchURL, "search", envOr("PROJECTOR_TEST_SEARCH", "http://127.0.0.1:9200"), "search engine URL (env PROJECTOR_TEST_SEARCH)")

	fs.IntVar(&o.drain.BulkRows, "drain-bulk-rows", 400000, "rows bulk-inserted, then bulk-updated, for the drain")
	fs.IntVar(&o.drain.Batch, "drain-batch", 100000, "rows per bulk transaction")
	fs.IntVar(&o.drain.PgbenchTxns, "drain-pgbench-txns", 50000, "pgbench transactions (4 row changes each)")
	fs.IntVar(&o.drain.PgbenchClients, "drain-pgbench-clients", 2, "pgbench clients")
	fs.IntVar(&o.drain.Rounds, "drain-rounds", 3, "drains per contender")

	fs.IntVar(&o.snapshot.Size.Orders, "snapshot-orders", 1000000, "root rows of the snapshot benchmark")
	fs.IntVar(&o.snapshot.Size.Customers, "snapshot-customers", 100000, "belongs_to rows of the snapshot benchmark")
	fs.IntVar(&o.snapshot.Rounds, "snapshot-rounds", 2, "snapshots per contender")
	fs.StringVar(&o.snapshot.Baseline, "snapshot-baseline", "", "another projector binary (an older build) to run next to projector in each snapshot round (after it in even rounds, before it in odd ones), on the same data; its CPU seconds and copy time are logged")
	fs.BoolVar(&o.profileSnapshot, "snapshot-profile", false, "run one more, untimed snapshot under the CPU profiler")
	fs.StringVar(&o.profileDir, "profile-dir", "", "keep the CPU profiles (and the snapshot's heap profile) in this directory; also profiles projector over the last order-change streaming load and while idle in the single-table benchmark, and over the first 30 s of each path of the event-sourcing benchmark's last round")

	fs.IntVar(&o.stream.Size.Orders, "stream-orders", 50000, "root rows of the streaming benchmark")
	fs.IntVar(&o.stream.Size.Customers, "stream-customers", 500, "customers of the streaming benchmark (orders/customers is the fan-out)")
	fs.StringVar(&o.rates, "stream-rates", "500,1000,2000,4000,0", "transactions per second of each streaming load; 0 is unpaced")
	fs.Float64Var(&o.stream.FanoutRate, "stream-fanout-rate", 20, "customer renames per second of the fan-out load (0 skips it)")
	fs.DurationVar(&o.stream.Duration, "stream-duration", 60*time.Second, "duration of each streaming load")
	fs.IntVar(&o.stream.Workers, "stream-workers", 8, "connections of the streaming write load")
	fs.IntVar(&o.hugeTxn.Rows, "hugetxn-rows", 5000000, "rows of the huge transactions: one update of them all, one aborted insert of as many")

	fs.IntVar(&o.lean.Rows, "lean-rows", 200000, "rows of the single-table streaming benchmark's table")
	fs.StringVar(&o.leanRates, "lean-rates", "50,500", "inserts per second of each single-table load")
	fs.DurationVar(&o.lean.Duration, "lean-duration", 60*time.Second, "duration of each single-table load")
	fs.DurationVar(&o.lean.Idle, "lean-idle", 60*time.Second, "time the daemon is watched with no writes after the single-table loads (0 skips it)")
	fs.IntVar(&o.lean.Workers, "lean-workers", 4, "connections of the single-table write load")
	fs.StringVar(&o.lean.Pgstream, "lean-pgstream", "", "path of a pgstream binary, your own build (its `--version` output is shown in the report), to run each single-table load against too, in turn with projector, as a same-run baseline; the server needs the wal2json plugin (empty: none)")
	fs.DurationVar(&o.lean.PgstreamBatchTimeout, "lean-pgstream-batch-timeout", 100*time.Millisecond, "pgstream's search batch timeout (target.search.batch.timeout, 1s by default in pgstream): how often it sends what it has to the search engine")
	fs.StringVar(&o.rywRates, "ryw-rates", "500,1000", "transactions per second of the loads the read-your-writes probe runs beside")
	fs.DurationVar(&o.ryw.Stream.Duration, "ryw-duration", 90*time.Second, "duration of each read-your-writes load (long enough for some 400-600 probes at 1,000 txn/s, so that p99 is not the second-slowest of 200)")
	fs.DurationVar(&o.ryw.ProbeEvery, "ryw-probe-every", 20*time.Millisecond, "pause between two read-your-writes probes")
	fs.BoolVar(&o.ryw.BulkRefresh, "ryw-bulk-refresh", false, "run projector with admin.bulk_refresh: waits made searchable by bulk requests' refresh=true")
	fs.IntVar(&o.events.Changes, "events-changes", 200000, "row changes, and as many published events, of the event-sourcing benchmark")
	fs.IntVar(&o.events.Aggregates, "events-aggregates", 20000, "orders those changes are about")
	fs.IntVar(&o.events.Batch, "events-batch", 1000, "changes per transaction of the event-sourcing benchmark")
	fs.IntVar(&o.events.Rounds, "events-rounds", 2, "runs of each path of the event-sourcing benchmark, alternating")
	fs.IntVar(&o.chunked.Rows, "chunked-rows", 10_000_000, "rows of the chunked snapshot benchmark's table")
	fs.IntVar(&o.chunked.ChunkRows, "chunked-chunk-rows", 5000, "rows per chunk of the chunked snapshot benchmark")
	fs.Float64Var(&o.chunked.WriteRate, "chunked-write-rate", 100, "transactions per second written during the chunked snapshot")
	fs.Int64Var(&o.chunked.WALBound, "chunked-wal-bound", bench.DefaultChunkedWALBound, "bytes of WAL the slot may retain during the chunked snapshot")
	fs.Float64Var(&o.chunked.MaxCopiedRatio, "chunked-max-copied", 1.1, "most rows the killed and resumed chunked snapshot may read, over the table's rows")
	fs.Int64Var(&o.hugeTxn.MaxRSS, "hugetxn-max-rss", bench.DefaultHugeTxnMaxRSS, "bytes of peak resident set the huge transactions may take")

	var bulk, concurrency, items int
	fs.IntVar(&bulk, "bulk-actions", 1000, "projector's sink.bulk_actions, used by the loader too")
	fs.IntVar(&concurrency, "concurrency", 4, "projector's sink.concurrency, used by the loader too")
	fs.IntVar(&items, "items-per-order", 3, "has_many children per root")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "pg" && f.Name != "search" { // addresses, possibly with credentials
			o.settings = append(o.settings, "-"+f.Name+"="+f.Value.String())
		}
	})
	o.snapshot.BulkActions, o.snapshot.Concurrency, o.snapshot.Size.ItemsPerOrder = bulk, concurrency, items
	o.stream.BulkActions, o.stream.Concurrency, o.stream.Size.ItemsPerOrder = bulk, concurrency, items
	o.lean.BulkActions, o.lean.Concurrency = bulk, concurrency
	for _, r := range strings.Split(o.leanRates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return o, fmt.Errorf("-lean-rates: %q is not a positive number", r)
		}
		o.lean.Rates = append(o.lean.Rates, v)
	}
	o.ryw.Stream.Size, o.ryw.Stream.Workers = o.stream.Size, o.stream.Workers
	o.ryw.Stream.BulkActions, o.ryw.Stream.Concurrency = bulk, concurrency
	for _, r := range strings.Split(o.rywRates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return o, fmt.Errorf("-ryw-rates: %q is not a positive number", r)
		}
		o.ryw.Rates = append(o.ryw.Rates, v)
	}
	o.events.BulkActions, o.events.Concurrency = bulk, concurrency
	o.events.ProfileDir = o.profileDir
	o.chunked.BulkActions, o.chunked.Concurrency = bulk, concurrency
	o.chunked.ProfileDir = o.profileDir
	for _, r := range strings.Split(o.rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil {
			return o, fmt.Errorf("-stream-rates: %q is not a number", r)
		}
		o.stream.Rates = append(o.stream.Rates, v)
	}
	return o, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, log *slog.Logger) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	only := strings.Split(o.only, ",")
	dir, err := os.MkdirTemp("", "projector-bench-")
	if err != nil {
		return fmt.Errorf("create a work directory: %w", err)
	}
	defer os.RemoveAll(dir)

	rep := &bench.Report{Started: time.Now(), Command: "projector-bench " + strings.Join(publicArgs(args), " "), Settings: o.settings}
	if rep.Machine, err = bench.DescribeMachine(ctx, o.env); err != nil {
		return err
	}
	if len(rep.Machine.BusySlots) > 0 {
		log.Warn("other consumers are streaming from this PostgreSQL server; their walsenders decode the benchmarks' WAL too and skew every rate (make down stops the demo)",
			"slots", rep.Machine.BusySlots)
	}
	if slices.Contains(only, "micro") {
		log.Info("micro benchmarks")
		if rep.Micro, err = bench.RunMicro(ctx, dir, o.benchtime, bench.DefaultMicro()); err != nil {
			return err
		}
	}
	if slices.Contains(only, "drain") {
		log.Info("capture drain benchmark")
		prof := filepath.Join(cmp.Or(o.profileDir, dir), "drain.pprof")
		d, err := bench.RunDrain(ctx, o.env, o.drain, prof, log)
		if err != nil {
			return err
		}
		rep.Drain = &d
		if rep.DrainTop, err = bench.PprofTop(ctx, "", prof, 8); err != nil {
			return err
		}
	}
	var bin string
	if slices.ContainsFunc(only, func(b string) bool {
		return slices.Contains([]string{"snapshot", "chunked", "chunkrate", "stream", "lean", "hugetxn", "ryw", "events"}, b)
	}) {
		if bin, err = bench.BuildProjector(ctx, dir); err != nil {
			return err
		}
	}
	if slices.Contains(only, "snapshot") {
		log.Info("snapshot benchmark")
		prof := ""
		if o.profileSnapshot {
			prof = filepath.Join(cmp.Or(o.profileDir, dir), "snapshot.pprof")
		}
		s, err := bench.RunSnapshot(ctx, o.env, bin, dir, o.snapshot, prof, log)
		if err != nil {
			return err
		}
		rep.Snapshot = &s
		if prof != "" {
			if rep.SnapshotTop, err = bench.PprofTop(ctx, "", prof, 8); err != nil {
				return err
			}
		}
	}
	if slices.Contains(only, "stream") {
		log.Info("streaming benchmark")
		opts := o.stream
		if o.profileDir != "" {
			opts.ProfilePath = filepath.Join(o.profileDir, "stream.pprof")
		}
		s, err := bench.RunStream(ctx, o.env, bin, dir, opts, log)
		if err != nil {
			return err
		}
		rep.Stream = &s
		if opts.ProfilePath != "" {
			if rep.StreamTop, err = bench.PprofTop(ctx, "", opts.ProfilePath, 8); err != nil {
				return err
			}
		}
	}
	if slices.Contains(only, "lean") {
		log.Info("single-table streaming benchmark")
		o.lean.ProfileDir = o.profileDir
		l, err := bench.RunLean(ctx, o.env, bin, dir, o.lean, log)
		if err != nil {
			return err
		}
		rep.Lean = &l
	}
	if slices.Contains(only, "ryw") {
		log.Info("read-your-writes benchmark")
		r, err := bench.RunRYW(ctx, o.env, bin, dir, o.ryw, log)
		if err != nil {
			return err
		}
		rep.RYW = &r
	}
	if slices.Contains(only, "events") {
		log.Info("event-sourcing benchmark")
		e, err := bench.RunEvents(ctx, o.env, bin, dir, o.events, log)
		if err != nil {
			return err
		}
		rep.Events = &e
	}
	if slices.Contains(only, "chunked") {
		log.Info("chunked snapshot benchmark", "rows", o.chunked.Rows)
		c, err := bench.RunChunked(ctx, o.env, bin, dir, o.chunked, log)
		if err != nil {
			return err
		}
		rep.Chunked = &c
	}
	if slices.Contains(only, "chunkrate") {
		log.Info("chunked against exported snapshot benchmark", "rows", o.chunked.Rows)
		c, err := bench.RunChunkRate(ctx, o.env, bin, dir, o.chunked, log)
		if err != nil {
			return err
		}
		rep.ChunkRate = &c
	}
	if slices.Contains(only, "hugetxn") {
		log.Info("huge transaction benchmark")
		h, err := bench.RunHugeTxn(ctx, o.env, bin, dir, o.hugeTxn, log)
		if err != nil {
			return err
		}
		rep.HugeTxn = &h
	}
	rep.Took = time.Since(rep.Started)
	failed := rep.Failed()
	var buf bytes.Buffer
	rep.Write(&buf)
	if o.out == "-" {
		if _, err := os.Stdout.Write(buf.Bytes()); err != nil {
			return err
		}
		if len(failed) > 0 {
			return fmt.Errorf("criteria not met: %s", strings.Join(failed, "; "))
		}
		return nil
	}
	out := buf.Bytes()
	if o.merge {
		earlier, err := os.ReadFile(o.out)
		if err != nil {
			return fmt.Errorf("read %s to merge this run into: %w", o.out, err)
		}
		out = bench.Merge(earlier, rep)
	}
	if err := os.WriteFile(o.out, out, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	log.Info("results written", "file", o.out)
	if len(failed) > 0 {
		return fmt.Errorf("criteria not met: %s", strings.Join(failed, "; "))
	}
	return nil
}

// publicArgs drops the server addresses from the command line written to
// the results: a DSN may carry a password.
func publicArgs(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		name := strings.TrimLeft(args[i], "-")
		name, _, inline := strings.Cut(name, "=")
		if name == "pg" || name == "search" {
			if !inline {
				i++
			}
			continue
		}
		out = append(out, args[i])
	}
	return out
}
