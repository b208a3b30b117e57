package capture

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestLargeTransactions runs a transaction larger than
// logical_decoding_work_mem that commits, with a subtransaction rolled back
// inside it, and one that aborts, through a Stream with the protocol
// projector picks for the server: the captured rows must equal the table,
// as they do for small transactions. From PostgreSQL 14 on the server
// streams the committed one while it runs (checked in
// pg_stat_replication_slots); the aborted one is streamed too unless the
// server already knows it aborted when it runs out of memory for it (18
// then drops it). On 13 the server spills both to disk and sends the
// committed one at its commit.
func TestLargeTransactions(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	// The walsender reads the database's settings when it connects.
	db.Exec(`ALTER DATABASE ` + pgx.Identifier{db.Name}.Sanitize() + ` SET logical_decoding_work_mem = '64kB'`)
	itemsTable(db, 1000)
	r := newReplica()
	s := runStream(t, db, r, Options{})
	r.waitFence(t, db, time.Minute)

	db.Exec(`BEGIN;
		INSERT INTO items (id, payload) SELECT g, repeat('c', 200) FROM generate_series(10001, 13000) g;
		UPDATE items SET v = v + 1, payload = 'updated' WHERE id <= 1000;
		SAVEPOINT s;
		INSERT INTO items (id, payload) SELECT g, repeat('s', 200) FROM generate_series(20001, 22000) g;
		UPDATE items SET v = v + 1 WHERE id <= 500;
		ROLLBACK TO SAVEPOINT s;
		DELETE FROM items WHERE id BETWEEN 901 AND 1000;
		COMMIT`)
	db.Exec(`BEGIN;
		INSERT INTO items (id, payload) SELECT g, repeat('a', 200) FROM generate_series(30001, 34000) g;
		UPDATE items SET v = v + 1 WHERE id <= 800;
		DELETE FROM items WHERE id BETWEEN 10001 AND 10500;
		ROLLBACK`)
	r.waitFence(t, db, 2*time.Minute)
	r.compare(t, db)

	if serverVersion(t, testbed.Primary) < 140000 {
		return
	}
	// Statistics reach the view a little after the walsender decoded.
	waitFor(t, "the committed large transaction to be counted as streamed", func() bool {
		var streamed int64
		queryRow(t, db.AdminDSN(), `SELECT coalesce((SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = $1), 0)`,
			&streamed, s.src.SlotName())
		return streamed >= 1
	})
}
