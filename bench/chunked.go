package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChunkedOptions size the chunked snapshot benchmark.
type ChunkedOptions struct {
	// Rows is the table's size; ChunkRows the rows per chunk.
	Rows, ChunkRows int
	// WriteRate is the paced write load, in transactions per second,
	// running through the whole copy.
	WriteRate float64
	// BulkActions and Concurrency are projector's sink settings.
	BulkActions, Concurrency int
	// WALBound is the most WAL the slot may hold back during the copy, a
	// constant rather than a share of the table: a chunked copy confirms
	// the stream as it goes, so what the slot retains is the WAL written
	// in a few seconds of the server's checkpoints and confirmations.
	WALBound int64
	// MaxCopiedRatio is the most rows both runs may read, over the table.
	MaxCopiedRatio float64
	// ProfileDir, when set, keeps a CPU profile of each chunk-rate
	// snapshot there (chunkrate-exported.pprof, chunkrate-chunked.pprof).
	ProfileDir string
}

// DefaultChunkedWALBound is the retained-WAL bound of the chunked
// snapshot benchmark unless a flag sets another.
const DefaultChunkedWALBound = 512 << 20

// ChunkedReport is what the chunked snapshot benchmark measured: one copy
// of a table in chunks, with projector killed (SIGKILL) at about half of
// it and started again on the same state.
type ChunkedReport struct {
	Options ChunkedOptions
	// Rows is the table's size at the end; Copied the rows both runs read,
	// KilledAt what the first had read at its last scrape before the kill.
	Rows, Copied, KilledAt int64
	// Writes counts the write load's transactions.
	Writes int64
	// RetainedWALMax is the most WAL the slot held back during the copy
	// (pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)), sampled.
	RetainedWALMax int64
	// Took is from the first start to readiness after the restart;
	// CPUSeconds is projector's CPU time in both runs.
	Took       time.Duration
	CPUSeconds float64
	// Documents is the view's document count at the end.
	Documents int
	// TableBytes is the table's size with its indexes, after the run: the
	// WAL a full copy in one transaction would hold back grows with it.
	TableBytes int64
	// Verify is what `projector verify` said at the end.
	Verify verifyResult
	// Criteria are the done-when conditions, checked.
	Criteria Criteria
}

// RunChunked runs the chunked snapshot benchmark in a database of its own.
func RunChunked(ctx context.Context, env Env, bin, dir string, opts ChunkedOptions, log *slog.Logger) (ChunkedReport, error) {
	rep := ChunkedReport{Options: opts}
	log.Info("loading the chunked snapshot table", "rows", opts.Rows)
	db, search, cleanup, err := accountsDatabase(ctx, env, opts.Rows, log)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	prefix := db.Name + "_"
	listen, err := freeAddr()
	if err != nil {
		return rep, err
	}
	slot := db.Name + "_chunked"
	cfg := fmt.Sprintf(`sources:
  db: { dsn: %q, slot: %s, snapshot: { mode: chunked, chunk_rows: %d } }
sink:
  urls: [%q]
  index_prefix: %s
  bulk_actions: %d
  concurrency: %d
state: { dir: %q }
http: { listen: %q }
views:
  - name: accounts
    root: { source: db, table: accounts }
`, db.DSN, slot, opts.ChunkRows, env.SearchURL, prefix, opts.BulkActions, opts.Concurrency, filepath.Join(dir, slot), listen)
	path := filepath.Join(dir, slot+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return rep, fmt.Errorf("write the chunked benchmark's configuration: %w", err)
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	writes := make(chan int64, 1)
	go func() { writes <- pacedWrites(loadCtx, db.DSN, opts.WriteRate, int64(opts.Rows), log) }()
	wal, err := pgx.Connect(ctx, env.AdminDSN)
	if err != nil {
		return rep, fmt.Errorf("connect to the PostgreSQL server: %w", err)
	}
	defer wal.Close(context.Background())
	sampleWAL := func() {
		var n *int64
		err := wal.QueryRow(ctx, `SELECT (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
			FROM pg_replication_slots WHERE slot_name = $1)`, slot).Scan(&n)
		if err == nil && n != nil {
			rep.RetainedWALMax = max(rep.RetainedWALMax, *n)
		}
	}

	start := time.Now()
	logPath := filepath.Join(dir, slot)
	p, err := startProjector(bin, path, listen, logPath+"-1.log")
	if err != nil {
		return rep, err
	}
	var last metricSet
	err = pollEvery(ctx, 100*time.Millisecond, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("projector exited during the chunked snapshot (%v); see %s-1.log", p.err, logPath)
		}
		sampleWAL()
		m, err := p.metrics(ctx)
		if err != nil {
			return false, nil // not listening yet
		}
		last = m
		return m.sum("projector_snapshot_rows_total", nil) >= float64(opts.Rows)/2, nil
	})
	if err != nil {
		p.kill()
		return rep, err
	}
	rep.KilledAt = int64(last.sum("projector_snapshot_rows_total", nil))
	rep.CPUSeconds = last.sum("process_cpu_seconds_total", nil)
	p.kill()
	log.Info("killed projector during the chunked snapshot", "rows_copied", rep.KilledAt)

	p, err = startProjector(bin, path, listen, logPath+"-2.log")
	if err != nil {
		return rep, err
	}
	defer p.stop()
	err = pollEvery(ctx, 200*time.Millisecond, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("projector exited during the resumed chunked snapshot (%v); see %s-2.log", p.err, logPath)
		}
		sampleWAL()
		m, err := p.metrics(ctx)
		if err != nil {
			return false, nil
		}
		last = m
		return p.ready(ctx), nil
	})
	if err != nil {
		return rep, err
	}
	rep.Took = time.Since(start)
	rep.Copied = rep.KilledAt + int64(last.sum("projector_snapshot_rows_total", nil))
	rep.CPUSeconds += last.sum("process_cpu_seconds_total", nil)
	stopLoad()
	rep.Writes = <-writes
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		return rep, err
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&rep.Rows); err != nil {
		return rep, fmt.Errorf("count the table: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_total_relation_size('accounts')`).Scan(&rep.TableBytes); err != nil {
		return rep, fmt.Errorf("size the table: %w", err)
	}
	log.Info("verifying the chunked snapshot's view")
	if rep.Verify, err = runVerify(ctx, bin, path); err != nil {
		return rep, err
	}
	// Counted after verify, which waits for the daemon to confirm the
	// write load's last changes.
	if rep.Documents, err = search.count(ctx, prefix+"accounts"); err != nil {
		return rep, err
	}
	rep.Criteria = rep.check()
	return rep, nil
}

// check compares the run with the done-when conditions: rows read in both
// runs at most MaxCopiedRatio of the table, no drift, the slot's retained
// WAL under the stated bound and the documents matching the table.
func (r ChunkedReport) check() Criteria {
	ratio := 0.0
	if r.Rows > 0 {
		ratio = float64(r.Copied) / float64(r.Rows)
	}
	o := r.Options
	return Criteria{
		{Name: fmt.Sprintf("rows copied / table <= %.2f", o.MaxCopiedRatio), Got: fmt.Sprintf("%.3f", ratio),
			Pass: r.Rows > 0 && ratio <= o.MaxCopiedRatio},
		{Name: "killed at about half of the copy (0.3 to 0.7 of the table)",
			Got:  fmt.Sprintf("%.2f", float64(r.KilledAt)/float64(max(r.Rows, 1))),
			Pass: r.KilledAt >= 3*r.Rows/10 && r.KilledAt <= 7*r.Rows/10},
		{Name: "zero drift (projector verify)", Got: r.Verify.verifyLine(), Pass: r.Verify.Clean},
		{Name: "documents = table rows", Got: fmt.Sprintf("%s / %s", thousands(float64(r.Documents)), thousands(float64(r.Rows))),
			Pass: int64(r.Documents) == r.Rows},
		{Name: fmt.Sprintf("retained WAL during the copy <= %s (the table is %s)", mib(float64(o.WALBound)), mib(float64(r.TableBytes))),
			Got: mib(float64(r.RetainedWALMax)), Pass: r.RetainedWALMax > 0 && r.RetainedWALMax <= o.WALBound},
	}
}

// kill ends projector with SIGKILL and waits for it.
func (p *process) kill() {
	_ = p.cmd.Process.Kill() // already gone is as good
	<-p.done
}

// ready reports whether /readyz answers 200.
func (p *process) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.listen+"/readyz", nil)
	if err != nil {
		return false
	}
	res, err := p.client.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// pacedWrites updates, inserts and deletes rows of accounts at rate
// transactions per second until ctx ends, and returns how many it ran.
func pacedWrites(ctx context.Context, dsn string, rate float64, rows int64, log *slog.Logger) int64 {
	if rate <= 0 {
		return 0
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		log.Error("paced writes", "error", err)
		return 0
	}
	defer conn.Close(context.Background())
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	var n int64
	next := rows
	for {
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
		id := 1 + rand.Int64N(next)
		var err error
		switch rand.IntN(10) {
		case 0:
			next++
			_, err = conn.Exec(ctx, `INSERT INTO accounts (id, tenant, note) VALUES ($1, 'new', 'new')`, next)
		case 1:
			_, err = conn.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
		default:
			_, err = conn.Exec(ctx, `UPDATE accounts SET v = v + 1 WHERE id = $1`, id)
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Error("paced writes", "error", err)
			}
			return n
		}
		n++
	}
}

// accountsDatabase creates a database of its own (Env.scratch) holding
// the accounts table of the chunked benchmarks with rows rows, analysed,
// and returns it with a search client and the clean-up that drops the
// database and every index of its prefix.
func accountsDatabase(ctx context.Context, env Env, rows int, log *slog.Logger) (*Database, *searchClient, func(), error) {
	db, search, cleanup, err := env.scratch(ctx, log)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{sql: `CREATE TABLE accounts (id bigint PRIMARY KEY, tenant text NOT NULL, v bigint NOT NULL DEFAULT 0, note text NOT NULL)`},
		{sql: `INSERT INTO accounts (id, tenant, note) SELECT g, 't' || (g % 100), md5(g::text) FROM generate_series(1, $1::bigint) g`,
			args: []any{rows}},
		{sql: `ANALYZE accounts`},
	} {
		if err := db.Exec(ctx, st.sql, st.args...); err != nil {
			cleanup()
			return nil, nil, nil, err
		}
	}
	return db, search, cleanup, nil
}
