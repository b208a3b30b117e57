package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/internal/testbed"
)

// The table the chunked snapshot tests copy is large enough that a kill
// lands in the middle of the copy, and small enough for go test: a third
// of it under the race detector, which slows the pipeline several times.
const (
	chunkedChunkRows = 1000
	// chunkedWALBound is the retained WAL the slot may hold during the
	// copy: the paced writes of about a minute and the checkpoints'
	// full-page images, not the table's 300,000 rows.
	chunkedWALBound = 64 << 20
)

// chunkedRows is how many rows the chunked snapshot tests copy.
func chunkedRows() int64 {
	if raceEnabled {
		return 100_000
	}
	return 300_000
}

// pacedWriter updates, inserts and deletes rows of accounts at a steady
// rate until halted, as an application would while the snapshot runs.
type pacedWriter struct {
	ops  atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startPacedWriter(t *testing.T, db *testbed.Database, perSecond int) *pacedWriter {
	t.Helper()
	w := &pacedWriter{stop: make(chan struct{})}
	conn := db.Connect()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		ctx := context.Background()
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		next := chunkedRows()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			id := 1 + rand.Int64N(next)
			tenant := fmt.Sprintf("t%d", id%7)
			var err error
			switch rand.IntN(10) {
			case 0:
				next++
				_, err = conn.Exec(ctx, `INSERT INTO accounts (tenant, id, note) VALUES ($1, $2, 'new')`, fmt.Sprintf("t%d", next%7), next)
			case 1:
				_, err = conn.Exec(ctx, `DELETE FROM accounts WHERE tenant = $1 AND id = $2`, tenant, id)
			default:
				_, err = conn.Exec(ctx, `UPDATE accounts SET v = v + 1, note = 'changed' WHERE tenant = $1 AND id = $2`, tenant, id)
			}
			if err != nil {
				t.Errorf("paced writer: %v", err)
				return
			}
			w.ops.Add(1)
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *pacedWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// retainedWAL is the WAL the slot holds back on its server.
func retainedWAL(t *testing.T, db *testbed.Database, slot string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n *int64
	err = conn.QueryRow(ctx, `SELECT (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
		FROM pg_replication_slots WHERE slot_name = $1)`, slot).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n == nil {
		return 0
	}
	return *n
}

// TestChunkedSnapshotKilledAndResumed runs projector in chunked mode on a
// table of 300,000 rows (100,000 under the race detector) with a composite key while writes go on, kills it
// with SIGKILL at about half of the copy and starts it again: the copy
// resumes after the last chunk applied (rows copied in both runs at most
// 1.1 x the table), the slot's retained WAL stays under a bound that does
// not depend on the table's size, and verify finds no drift.
func TestChunkedSnapshotKilledAndResumed(t *testing.T) {
	// A server of its own: retained WAL counts every database's writes,
	// and other tests write plenty on the shared servers.
	db := testbed.NewPrivateServer(t).NewDatabase()
	rows := chunkedRows()
	db.Exec(`CREATE TABLE accounts (tenant text, id bigint, v bigint NOT NULL DEFAULT 0, note text NOT NULL,
		PRIMARY KEY (tenant, id))`)
	db.Exec(`INSERT INTO accounts (tenant, id, note) SELECT 't' || (g % 7), g, md5(g::text) FROM generate_series(1, $1::int) g`, rows)
	db.Exec(`ANALYZE accounts`)
	search := testbed.NewSearch(t)
	addr := freePort(t)
	slot := search.Prefix + "accounts"
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  db: { dsn: %q, slot: %s, snapshot: { mode: chunked, chunk_rows: %d } }
sink:
  urls: [%q]
  index_prefix: %s
  flush_interval: 100ms
state: { dir: %q }
http: { listen: %q }
views:
  - name: accounts
    root: { source: db, table: accounts }
`, db.DSN(), slot, chunkedChunkRows, search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr)
	writes := startPacedWriter(t, db, 100)

	copied := func(d *process) float64 {
		v, _ := sample(scrape(d), "projector_snapshot_rows_total", map[string]string{"table": "public.accounts"})
		return v
	}
	var maxWAL atomic.Int64
	sampleWAL := func() {
		if n := retainedWAL(t, db, slot); n > maxWAL.Load() {
			maxWAL.Store(n)
		}
	}
	// Kill at about half of the copy, remembering the last count seen.
	var first float64
	eventually(t, 3*time.Minute, func() bool {
		sampleWAL()
		first = copied(d)
		return first >= float64(rows/2)
	}, func() string { return fmt.Sprintf("the copy reached only %.0f rows", first) })
	if code, body, _ := d.get("/readyz"); code == 200 {
		t.Fatalf("ready during the chunked copy: %s", body)
	}
	if err := d.stop(syscall.SIGKILL, 30*time.Second); err == nil {
		t.Fatal("projector survived SIGKILL")
	}
	t.Logf("killed projector after %.0f of %d rows copied", first, rows)

	d = startDaemon(t, cfg, addr)
	eventually(t, 3*time.Minute, func() bool {
		sampleWAL()
		code, _, _ := d.get("/readyz")
		return code == 200
	}, func() string { _, body, _ := d.get("/readyz"); return "not ready: " + body })
	second := copied(d)
	writes.halt()
	var size int64
	if err := db.Connect().QueryRow(context.Background(), `SELECT count(*) FROM accounts`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes during the copy; %d rows at the end", writes.ops.Load(), size)

	// The first run may have read up to two chunks after its last scrape.
	total := first + 2*chunkedChunkRows + second
	t.Logf("rows copied: %.0f before the kill (+ at most %d unseen), %.0f after; %.0f in all for %d rows; retained WAL at most %d KiB",
		first, 2*chunkedChunkRows, second, total, size, maxWAL.Load()>>10)
	if second >= 0.9*float64(rows) {
		t.Errorf("the restarted copy read %.0f rows: it started over", second)
	}
	if total > 1.1*float64(size) {
		t.Errorf("rows copied in all %.0f, more than 1.1 x the table's %d", total, size)
	}
	if maxWAL.Load() == 0 {
		t.Error("the slot's retained WAL was never sampled")
	}
	if maxWAL.Load() > chunkedWALBound {
		t.Errorf("the slot retained %d MiB of WAL during the copy, over the bound of %d MiB", maxWAL.Load()>>20, chunkedWALBound>>20)
	}
	verifyViews(t, cfg, nil, "accounts")
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}
