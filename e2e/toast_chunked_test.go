package e2e

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestChunkedSnapshotKeepsUnchangedToast copies, in chunks, a table whose
// body column is stored out of line (TOASTed) while transactions keep
// updating another column of a twentieth of its rows at a time. Such an
// update does not resend the body (pgoutput marks it unchanged), and the
// stream's event wins over the chunk's copy of the row: the body must
// then come from the chunk's row, or from a later chunk for a row not
// copied yet, never be lost. verify compares every document, body
// included, with the table.
func TestChunkedSnapshotKeepsUnchangedToast(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	const rows, chunkRows = 600, 10
	// STORAGE EXTERNAL keeps the body out of line and uncompressed, and
	// 6,400 random hex characters would not compress under the 2 kB
	// TOAST threshold anyway.
	db.Exec(`CREATE TABLE docs (id bigint PRIMARY KEY, v bigint NOT NULL DEFAULT 0, body text NOT NULL)`)
	db.Exec(`ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL`)
	db.Exec(`INSERT INTO docs (id, body) SELECT g, (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 200) i)
		FROM generate_series(1, $1::int) g`, rows)
	db.Exec(`ANALYZE docs`)
	var toasted int64
	if err := db.Connect().QueryRow(context.Background(),
		`SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'docs'::regclass`).Scan(&toasted); err != nil {
		t.Fatal(err)
	}
	if toasted < rows*6000 {
		t.Fatalf("the bodies take %d bytes out of line, want them all TOASTed", toasted)
	}

	search := testbed.NewSearch(t)
	addr := freePort(t)
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
  - name: docs
    root: { source: db, table: docs }
`, db.DSN(), search.Prefix+"docs", chunkRows, search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr)

	// Every 20 ms one transaction updates v of a twentieth of the rows
	// (small chunks and frequent updates, so that a copy on a quiet machine
	// still overlaps many of them):
	// each chunk's window sees updates of its own keys, of keys copied
	// already and of keys not copied yet, none of them resending the body.
	// A round of twenty updates, which rewrites every document with its
	// body, waits while projector is behind: at a fixed rate, a machine
	// too slow to keep up (the race detector, other tests) falls further
	// behind with every round, and since a chunk ends only when the stream
	// reaches its high watermark, the copy would never end. Paused, the
	// updates still overlap the chunks, which go on only as the stream
	// catches up.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var updates int
	conn := db.Connect() // before halt is registered: it must close after halt ran
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		behind := false
		for k := 0; ; k = (k + 1) % 20 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if k == 0 {
				lag, _ := sample(scrape(d), "projector_source_lag_seconds", map[string]string{"source": "db"})
				behind = lag > 2
			}
			if behind {
				continue
			}
			if _, err := conn.Exec(context.Background(), `UPDATE docs SET v = v + 1 WHERE id % 20 = $1`, k); err != nil {
				t.Errorf("update: %v", err)
				return
			}
			updates++
		}
	}()
	halt := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	t.Cleanup(halt)

	eventually(t, 10*time.Minute, func() bool {
		code, _, _ := d.get("/readyz")
		return code == 200
	}, func() string { _, body, _ := d.get("/readyz"); return "not ready: " + body })
	halt()
	chunks, _ := sample(scrape(d), "projector_snapshot_chunks", map[string]string{"table": "public.docs"})
	t.Logf("%d updates of a twentieth of the table during a copy in %.0f chunks", updates, chunks)
	if chunks < rows/chunkRows {
		t.Errorf("copied in %.0f chunks, want at least %d: the snapshot was not chunked", chunks, rows/chunkRows)
	}
	if updates < 10 {
		t.Errorf("only %d updates ran during the copy", updates)
	}
	verifyViews(t, cfg, nil, "docs")
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}
