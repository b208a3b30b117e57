package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// BaselinePhase is one load of the single-table benchmark followed by
// another replicator, measured from outside as projector is: CPU and
// resident set from /proc, lag by probe rows.
type BaselinePhase struct {
	Name       string
	WrittenTPS float64
	CatchUp    time.Duration
	CaughtUp   bool
	CPUSeconds float64 // utime + stime from the load's start until caught up
	PeakRSS    float64 // highest VmRSS polled, bytes
	// ProbeLag are the probe rows' lags in seconds, from their commit to
	// the document's first real-time get.
	ProbeLag []float64
}

// PgstreamBaseline is pgstream run on the single table beside projector,
// on a database of its own on the same server, load for load.
type PgstreamBaseline struct {
	Version string // what `pgstream --version` printed
	// BatchTimeout is pgstream's search batch timeout; its batch size is
	// projector's bulk_actions.
	BatchTimeout time.Duration
	Phases       []BaselinePhase
	VmHWM        string // pgstream's peak resident set over the run
	// First names who ran first in each load, "projector" or "pgstream".
	First []string
}

// probeEvery is the pause between two lag probes: a probe row adds one
// insert per interval to the load, the same for both replicators. Each
// pause is longer by a random part of probeJitter, two whole periods of a
// replicator's 100 ms batch timer: probes spaced exactly a second apart
// kept one phase against that timer for a whole load, and a replicator's
// lag p50 then swung between 0.01 and 0.1 s from one load to the next.
const (
	probeEvery  = time.Second
	probeJitter = 200 * time.Millisecond
)

// lagProbe inserts probe rows, one at a time, and times each from its
// commit until a real-time get by id finds its document: the lag of a
// replicator as a client sees it, measured the same way whatever the
// replicator. Probe rows have negative ids, which the load never uses.
type lagProbe struct {
	conn   *pgx.Conn
	search *searchClient
	// docPath is the path of the document of the row with id.
	docPath func(id int64) string
	last    int64 // the last probe row's id
}

func newLagProbe(ctx context.Context, dsn string, search *searchClient, docPath func(int64) string) (*lagProbe, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect the lag probe: %w", err)
	}
	return &lagProbe{conn: conn, search: search, docPath: docPath}, nil
}

func (p *lagProbe) close() { p.conn.Close(context.Background()) }

// one writes a probe row and waits until its document is found, within
// a minute; it returns the lag and the time it was found. before, if not
// nil, runs before each get, as a caller's reading of the replicator's
// CPU time that is to end just before the get that finds the document.
func (p *lagProbe) one(ctx context.Context, before func()) (time.Duration, time.Time, error) {
	p.last--
	id := p.last
	if _, err := p.conn.Exec(ctx, `INSERT INTO `+leanTable+` VALUES ($1, 'probe', 0, now())`, id); err != nil {
		return 0, time.Time{}, fmt.Errorf("insert probe row %d: %w", id, err)
	}
	committed := time.Now()
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var found time.Time
	err := pollEvery(wait, 10*time.Millisecond, func() (bool, error) {
		if before != nil {
			before()
		}
		ok, err := p.search.exists(wait, p.docPath(id))
		if ok {
			found = time.Now()
		}
		return ok, err
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("wait for probe row %d's document: %w", id, err)
	}
	return found.Sub(committed), found, nil
}

// run probes every probeEvery and a random part of probeJitter for d and
// returns the lags in seconds. A probe started within d is waited for:
// cancelling its insert would close the probe's connection.
func (p *lagProbe) run(ctx context.Context, d time.Duration) ([]float64, error) {
	var lags []float64
	start := time.Now()
	next := start
	for {
		lag, _, err := p.one(ctx, nil)
		if err != nil {
			return lags, err
		}
		lags = append(lags, lag.Seconds())
		next = next.Add(probeEvery + rand.N(probeJitter))
		if next.Sub(start) >= d {
			return lags, nil
		}
		select {
		case <-ctx.Done():
			return lags, ctx.Err()
		case <-time.After(time.Until(next)):
		}
	}
}

// exists reports whether a real-time get finds the document at path.
func (c *searchClient) exists(ctx context.Context, path string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.url+path, nil)
	if err != nil {
		return false, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("HEAD %s: %w", path, err)
	}
	res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("HEAD %s: %s", path, res.Status)
	}
}

// lagQuantile is the q-quantile of samples by the nearest rank; NaN when
// there are none.
func lagQuantile(samples []float64, q float64) float64 {
	if len(samples) == 0 {
		return math.NaN()
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// pgstreamRun is pgstream following the single table of a database of
// its own.
type pgstreamRun struct {
	proc    *process
	db      *Database
	dsn     string // db's, with the table's schema first on the search path
	schema  string // also the name of pgstream's index for it
	tableID string // pgstream's id of the table, the prefix of its documents' ids
	search  *searchClient
	// probe times probe rows during the loads and tells when pgstream
	// caught up after them; one for the run, so that its row ids go on.
	probe   *lagProbe
	cleanup func()
}

// startPgstream creates a database with the single table in a schema of
// its own (pgstream names its index after the schema), initialises
// pgstream on it, fills the table and runs pgstream until it has indexed
// every row. pgstream streams the rows from its slot, which `init`
// created before the table: no snapshot configuration is needed.
func startPgstream(ctx context.Context, env Env, bin, dir string, opts LeanOptions, log *slog.Logger) (*pgstreamRun, error) {
	db, search, cleanup, err := env.scratch(ctx, log)
	if err != nil {
		return nil, err
	}
	r := &pgstreamRun{db: db, search: search, schema: db.Name + "_pgstream"}
	r.cleanup = func() {
		if r.probe != nil {
			r.probe.close()
		}
		if r.proc != nil {
			if err := r.proc.stop(); err != nil {
				log.Warn("stop pgstream", "error", err)
			}
		}
		cleanup()
	}
	fail := func(err error) (*pgstreamRun, error) {
		r.cleanup()
		return nil, err
	}
	u, err := url.Parse(db.DSN)
	if err != nil {
		return fail(errors.New("the database DSN cannot be parsed"))
	}
	q := u.Query()
	q.Set("search_path", r.schema)
	u.RawQuery = q.Encode()
	r.dsn = u.String()
	config := filepath.Join(dir, r.schema+".yaml")
	yaml := fmt.Sprintf(`
source:
  postgres:
    url: %q
    mode: replication
    replication:
      replication_slot: %s
target:
  search:
    engine: opensearch
    url: %q
    batch:
      timeout: %d
      size: %d
    backoff:
      exponential:
        max_retries: 5
        initial_interval: 1000
        max_interval: 60000
modifiers:
  injector:
    enabled: true
`, db.DSN, r.schema, env.SearchURL, opts.PgstreamBatchTimeout.Milliseconds(), opts.BulkActions)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		return fail(fmt.Errorf("write pgstream configuration: %w", err))
	}
	if out, err := exec.CommandContext(ctx, bin, "init", "-c", config).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgstream init: %w\n%s", err, out))
	}
	// pgstream would create its index with OpenSearch's k-NN settings,
	// which an engine without the k-NN plugin refuses: the index is
	// created here as pgstream creates it (`<schema>-1`, aliased
	// `<schema>`) less those settings, and pgstream takes it as its own.
	index := map[string]any{
		"mappings": map[string]any{"dynamic": "strict", "properties": map[string]any{"_table": map[string]any{"type": "keyword"}}},
		"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 1, "index.mapping.total_fields.limit": 2000},
		"aliases":  map[string]any{r.schema: map[string]any{}},
	}
	if err := search.json(ctx, http.MethodPut, "/"+r.schema+"-1", index, nil); err != nil {
		return fail(fmt.Errorf("create pgstream's index: %w", err))
	}
	err = db.Exec(ctx, fmt.Sprintf(`
		CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.%[2]s (id int8 PRIMARY KEY, kind text NOT NULL, amount int8 NOT NULL, created_at timestamptz NOT NULL);
		INSERT INTO %[1]s.%[2]s SELECT g, (ARRAY['click','view','buy'])[1 + g %% 3], g %% 10000,
			timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, %[3]d) g;
		ANALYZE`, r.schema, leanTable, opts.Rows))
	if err != nil {
		return fail(err)
	}
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		return fail(fmt.Errorf("connect to %s: %w", db.Name, err))
	}
	err = conn.QueryRow(ctx, `SELECT id::text FROM pgstream.table_ids WHERE oid = $1::regclass`, r.schema+"."+leanTable).Scan(&r.tableID)
	conn.Close(ctx)
	if err != nil {
		return fail(fmt.Errorf("read pgstream's id of the table: %w", err))
	}
	if r.proc, err = startProcess("pgstream", filepath.Join(dir, r.schema+".log"), bin, "run", "-c", config, "--log-level", "info"); err != nil {
		return fail(err)
	}
	copied, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	err = pollEvery(copied, time.Second, func() (bool, error) {
		if r.proc.exited() {
			return false, fmt.Errorf("pgstream exited: %v", r.proc.err)
		}
		n, err := search.count(copied, r.schema)
		return err == nil && n >= opts.Rows, nil
	})
	if err != nil {
		return fail(fmt.Errorf("pgstream's copy of the single table: %w", err))
	}
	return r, nil
}

// docPath is the path of the document of the row with id in pgstream's
// index.
func (r *pgstreamRun) docPath(id int64) string {
	return "/" + r.schema + "/_doc/" + r.tableID + "_" + strconv.FormatInt(id, 10)
}

// measure runs one load against pgstream's table, as measurePhase does
// against projector's: CPU seconds from /proc from the load's start until
// pgstream caught up, VmRSS polled every second, lag by probe rows. It
// caught up when a row written after the load is found, pgstream applying
// the changes in commit order.
func (r *pgstreamRun) measure(ctx context.Context, load *writeLoad, ph phase, opts LeanOptions) (BaselinePhase, error) {
	res := BaselinePhase{Name: ph.name}
	pid := r.proc.cmd.Process.Pid
	if r.probe == nil {
		probe, err := newLagProbe(ctx, r.dsn, r.search, r.docPath)
		if err != nil {
			return res, err
		}
		r.probe = probe
	}
	probe := r.probe
	pollCtx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		_ = pollEvery(pollCtx, time.Second, func() (bool, error) {
			res.PeakRSS = max(res.PeakRSS, vmRSS(pid))
			return false, nil
		})
	}()
	defer func() { stopPoll(); <-polled }()
	_, ticksBefore, procOK := procCPU(pid)
	probed := make(chan error, 1)
	go func() {
		var err error
		res.ProbeLag, err = probe.run(ctx, opts.Duration)
		probed <- err
	}()
	written, err := load.run(ctx, singleInserts, ph.rate, opts.Duration, opts.Workers)
	loadEnd := time.Now()
	if perr := <-probed; err == nil && perr != nil {
		err = fmt.Errorf("probe pgstream's lag during %s: %w", ph.name, perr)
	}
	if err != nil {
		return res, err
	}
	var ticks int64
	_, foundAt, err := probe.one(ctx, func() {
		var ok bool
		_, ticks, ok = procCPU(pid)
		procOK = procOK && ok
	})
	switch {
	case err == nil:
		res.CaughtUp = true
	case ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded):
		return res, err
	default:
		foundAt = time.Now()
		_, ticks, _ = procCPU(pid) // all it spent until the wait gave up
	}
	if !procOK {
		return res, fmt.Errorf("%s: read pgstream's CPU time from /proc/%d/stat", ph.name, pid)
	}
	res.CatchUp = foundAt.Sub(loadEnd)
	res.CPUSeconds = float64(ticks-ticksBefore) / userHZ
	res.WrittenTPS = float64(written.txns) / written.elapsed.Seconds()
	return res, nil
}

// measure runs one load against pgstream and keeps its result.
func (b *PgstreamBaseline) measure(ctx context.Context, r *pgstreamRun, load *writeLoad, ph phase, opts LeanOptions, log *slog.Logger) error {
	res, err := r.measure(ctx, load, ph, opts)
	if err != nil {
		return fmt.Errorf("pgstream during %s: %w", ph.name, err)
	}
	log.Info("single-table phase, pgstream", "phase", res.Name, "written_tps", math.Round(res.WrittenTPS),
		"cpu_s", res.CPUSeconds, "probe_p50_lag", lagQuantile(res.ProbeLag, 0.5), "peak_rss", res.PeakRSS, "catch_up", res.CatchUp)
	b.Phases = append(b.Phases, res)
	return nil
}

// pgstreamVersion is what `bin --version` prints, on one line.
func pgstreamVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	v := strings.Join(strings.Fields(string(out)), " ")
	if err != nil {
		return fmt.Sprintf("unknown (%s --version: %v)", bin, err)
	}
	return v
}
