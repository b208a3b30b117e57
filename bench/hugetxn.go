package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// HugeTxnOptions sizes the huge-transaction benchmark: one narrow table of
// Rows rows, then a transaction inserting as many rows again that aborts
// after the server streamed it, then one UPDATE of every row.
type HugeTxnOptions struct {
	Rows int
	// MaxRSS is the most resident memory the daemon applying the two
	// transactions may reach, at the default memory budget.
	MaxRSS int64
}

// DefaultHugeTxnMaxRSS is the huge-transaction benchmark's peak resident
// set bound unless a flag sets another.
const DefaultHugeTxnMaxRSS = 300 << 20

// HugeTxnReport is the huge-transaction benchmark's result: projector's
// CPU seconds and wall time for each transaction, its peak resident set
// over the whole run and what it spilled to disk.
type HugeTxnReport struct {
	Opts HugeTxnOptions
	// Aborted and Update are the two transactions: from before they start
	// until the document of a row written after them is searchable.
	Aborted, Update hugeTxnPhase
	// SnapshotHWM is the peak resident set of the daemon that made the
	// snapshot; VmHWM that of the daemon started again on its state to
	// apply the two transactions (nothing else ran in it).
	SnapshotHWM, VmHWM int64
	SpilledBytes       float64
	// Documents is the view's document count at the end, TableRows the
	// table's, AbortedDocs the documents of the aborted insert's keys.
	Documents, TableRows, AbortedDocs int
	// Verify is what `projector verify` said at the end.
	Verify verifyResult
	// Criteria are the done-when conditions, checked.
	Criteria Criteria
}

type hugeTxnPhase struct {
	Took       time.Duration
	CPUSeconds float64
}

const hugeTxnView = "narrow"

// RunHugeTxn runs the benchmark with the projector binary bin, in a
// database and under an index prefix of its own.
func RunHugeTxn(ctx context.Context, env Env, bin, dir string, opts HugeTxnOptions, log *slog.Logger) (HugeTxnReport, error) {
	rep := HugeTxnReport{Opts: opts}
	db, search, cleanup, err := env.scratch(ctx, log)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	if err := db.Exec(ctx, `CREATE TABLE narrow (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0)`); err != nil {
		return rep, err
	}
	if err := db.Exec(ctx, `INSERT INTO narrow (id) SELECT g FROM generate_series(1, $1::int) g`, opts.Rows); err != nil {
		return rep, err
	}
	listen, err := freeAddr()
	if err != nil {
		return rep, err
	}
	slot := db.Name + "_h"
	// The snapshot is exported whatever the table's size: it is not what
	// this benchmark measures, and exported is the quickest way to it.
	yaml := fmt.Sprintf(`
sources:
  app: { dsn: %q, slot: %s, publication: %s, snapshot: { mode: exported } }
sink: { urls: [%q], index_prefix: %s }
state: { dir: %s }
http: { listen: %s }
views:
  - name: %s
    root: { source: app, table: narrow }
    settings: { replicas: 0 }
`, db.DSN, slot, slot, env.SearchURL, db.Name+"_", filepath.Join(dir, db.Name), listen, hugeTxnView)
	path := filepath.Join(dir, slot+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return rep, fmt.Errorf("write projector configuration: %w", err)
	}
	p, err := startProjector(bin, path, listen, filepath.Join(dir, slot+"-snapshot.log"))
	if err != nil {
		return rep, err
	}
	defer func() { p.stop() }()
	index := db.Name + "_" + hugeTxnView
	fence := opts.Rows * 3
	waitRows := func(want int, within time.Duration) error {
		wctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		return pollEvery(wctx, time.Second, func() (bool, error) {
			if p.exited() {
				return false, fmt.Errorf("projector exited: %v", p.err)
			}
			n, err := search.count(wctx, index)
			return err == nil && n >= want, nil
		})
	}
	if err := waitRows(opts.Rows, 30*time.Minute); err != nil {
		return rep, fmt.Errorf("projector's snapshot of %d rows: %w", opts.Rows, err)
	}
	// The transactions run in a daemon of their own, started on the
	// snapshot's state, so that its peak resident set is theirs alone.
	rep.SnapshotHWM = vmHWMBytes(p.cmd.Process.Pid)
	if err := p.stop(); err != nil {
		return rep, fmt.Errorf("stop projector after the snapshot: %w", err)
	}
	if p, err = startProjector(bin, path, listen, filepath.Join(dir, slot+".log")); err != nil {
		return rep, err
	}
	phase := func(what, sql string, want int) (hugeTxnPhase, error) {
		_, before, _ := procCPU(p.cmd.Process.Pid)
		started := time.Now()
		if err := db.Exec(ctx, sql); err != nil {
			return hugeTxnPhase{}, err
		}
		fence++
		if err := db.Exec(ctx, `INSERT INTO narrow (id) VALUES ($1)`, fence); err != nil {
			return hugeTxnPhase{}, err
		}
		if err := waitRows(want, time.Hour); err != nil {
			return hugeTxnPhase{}, fmt.Errorf("%s: %w", what, err)
		}
		_, after, _ := procCPU(p.cmd.Process.Pid)
		ph := hugeTxnPhase{Took: time.Since(started), CPUSeconds: float64(after-before) / userHZ}
		log.Info("huge transaction applied", "what", what, "took", ph.Took.Round(time.Millisecond), "cpu_seconds", ph.CPUSeconds)
		return ph, nil
	}
	// A fence row after each transaction: its document is searchable once
	// the transaction before it is applied, both having been confirmed in
	// commit order.
	if rep.Aborted, err = phase("aborted insert", fmt.Sprintf(`BEGIN;
		INSERT INTO narrow (id) SELECT g FROM generate_series(%d, %d) g;
		ROLLBACK`, opts.Rows+1, 2*opts.Rows), opts.Rows+1); err != nil {
		return rep, err
	}
	if rep.Update, err = phase("update", `UPDATE narrow SET v = v + 1 WHERE id <= `+fmt.Sprint(opts.Rows), opts.Rows+2); err != nil {
		return rep, err
	}
	rep.VmHWM = vmHWMBytes(p.cmd.Process.Pid)
	m, err := p.metrics(ctx)
	if err != nil {
		return rep, err
	}
	rep.SpilledBytes = m.sum("projector_source_spilled_bytes_total", nil)
	log.Info("verifying the huge transactions' view")
	if rep.Verify, err = runVerify(ctx, bin, path); err != nil {
		return rep, err
	}
	if rep.Documents, err = search.count(ctx, index); err != nil {
		return rep, err
	}
	var aborted struct{ Count int }
	query := map[string]any{"query": map[string]any{"range": map[string]any{"id": map[string]any{"gt": opts.Rows, "lte": 2 * opts.Rows}}}}
	if err := search.json(ctx, http.MethodPost, "/"+index+"/_count", query, &aborted); err != nil {
		return rep, fmt.Errorf("count the aborted insert's documents: %w", err)
	}
	rep.AbortedDocs = aborted.Count
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		return rep, fmt.Errorf("connect to %s: %w", db.Name, err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM narrow`).Scan(&rep.TableRows); err != nil {
		return rep, fmt.Errorf("count the table: %w", err)
	}
	rep.Criteria = rep.check()
	return rep, nil
}

// check compares the run with the done-when conditions: the daemon that
// applied the transactions stayed under the resident-set bound, verify
// found no drift, and no document of the aborted insert exists.
func (r HugeTxnReport) check() Criteria {
	return Criteria{
		{Name: fmt.Sprintf("peak RSS applying the transactions < %s", mib(float64(r.Opts.MaxRSS))), Got: mib(float64(r.VmHWM)),
			Pass: r.VmHWM > 0 && r.VmHWM < r.Opts.MaxRSS},
		{Name: "the transactions were spilled, not held in memory", Got: fmt.Sprintf("%.0f MiB spilled", r.SpilledBytes/(1<<20)),
			Pass: r.SpilledBytes > 0},
		{Name: "zero drift (projector verify)", Got: r.Verify.verifyLine(), Pass: r.Verify.Clean},
		{Name: "no document of the aborted insert", Got: thousands(float64(r.AbortedDocs)), Pass: r.AbortedDocs == 0},
		{Name: "documents = table rows", Got: fmt.Sprintf("%s / %s", thousands(float64(r.Documents)), thousands(float64(r.TableRows))),
			Pass: r.Documents == r.TableRows && r.TableRows == r.Opts.Rows+2},
	}
}

// vmHWMBytes is the peak resident set of process pid in bytes, 0 when
// /proc does not say.
func vmHWMBytes(pid int) int64 {
	v := vmHWM(pid)
	kb, ok := strings.CutSuffix(v, " kB")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
	if err != nil {
		return 0
	}
	return n << 10
}

// writeHugeTxn renders the huge-transaction benchmark.
func (r *Report) writeHugeTxn(p printer) {
	h := r.HugeTxn
	p("")
	p("## 8. Huge transactions")
	p("")
	p("One table of %d narrow rows (`id bigint`, `v int`) snapshotted, then a transaction inserting %d rows that", h.Opts.Rows, h.Opts.Rows)
	p("aborts after the server streamed it, then one `UPDATE` of all %d rows; each timed from its start until the", h.Opts.Rows)
	p("document of a row written after it is searchable. Their changes wait in spill files under the state directory.")
	p("")
	p("| transaction | wall time | projector CPU seconds |")
	p("| --- | --- | --- |")
	p("| aborted insert of %d rows | %s | %.1f |", h.Opts.Rows, h.Aborted.Took.Round(100*time.Millisecond), h.Aborted.CPUSeconds)
	p("| update of %d rows | %s | %.1f |", h.Opts.Rows, h.Update.Took.Round(100*time.Millisecond), h.Update.CPUSeconds)
	p("")
	p("Peak resident set (VmHWM) of the daemon that made the snapshot: %s; of the daemon started again on its", mib(float64(h.SnapshotHWM)))
	p("state that applied the two transactions, at the default memory budget: %s. Spilled: %.0f MiB.", mib(float64(h.VmHWM)), h.SpilledBytes/(1<<20))
	h.Criteria.write(p)
}
