package client

import (
	"context"
	"testing"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestCommitPosition: the position read after a commit is at or past the
// commit's end, as the server's own function for it reports.
func TestCommitPosition(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE t (id int PRIMARY KEY)`)
	conn := db.Connect()
	ctx := context.Background()
	for i := range 20 {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO t VALUES ($1)`, i); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		// A synchronous commit flushed its record before it returned, so
		// the WAL flushed now is past it; the position read next must be
		// at least that.
		var flushed string
		if err := conn.QueryRow(ctx, `SELECT pg_current_wal_flush_lsn()::text`).Scan(&flushed); err != nil {
			t.Fatal(err)
		}
		f, err := ParseLSN(flushed)
		if err != nil {
			t.Fatal(err)
		}
		lsn, err := CommitPosition(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if lsn == 0 || lsn < f {
			t.Fatalf("commit position %s is before the flushed WAL %s", lsn, f)
		}
	}
}
