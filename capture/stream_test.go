package capture

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestSnapshotThenStream writes concurrently while the snapshot is taken
// and streamed: the captured state must equal the table, every change
// delivered exactly once. Each transaction is released once applied, so
// the snapshot's chunks are decoded into the rows of the ones before.
func TestSnapshotThenStream(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 20000)
	r := newReplica()
	r.release = true
	r.gate = make(chan struct{})
	runStream(t, db, r, Options{SnapshotChunkRows: 1000})

	w := startWriter(t, db, 20000)
	// Hold the snapshot's first chunk until writes run beside it.
	w.waitOps(t, 200)
	close(r.gate)
	w.waitOps(t, 1500)
	w.halt()
	r.waitFence(t, db, time.Minute)
	r.compare(t, db)
}

// TestDirectDeliveryKeepsOrder streams with RunWith's direct delivery
// beside the delivering goroutine: a try that takes some transactions and
// refuses others, while the goroutine's deliveries are slow, must still
// deliver every change once and in commit order.
func TestDirectDeliveryKeepsOrder(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 2000)
	r := newReplica()
	var tries, direct atomic.Int64
	try := func(txn *Transaction) bool {
		// Refuse two in three, so that queued transactions are often
		// waiting for the delivering goroutine when the next one comes.
		if tries.Add(1)%3 != 0 {
			return false
		}
		direct.Add(1)
		if err := r.deliver(context.Background(), txn); err != nil {
			t.Errorf("deliver: %v", err)
		}
		return true
	}
	runStreamWith(t, db, r, Options{SnapshotChunkRows: 100}, try)
	w := startWriter(t, db, 2000)
	w.waitOps(t, 1500)
	w.halt()
	r.waitFence(t, db, time.Minute)
	r.compare(t, db)
	if direct.Load() == 0 {
		t.Error("no transaction was delivered directly")
	}
}

// TestTwoServers captures two sources on two independent servers at once.
func TestTwoServers(t *testing.T) {
	t.Parallel()
	type capture struct {
		db *testbed.Database
		r  *replica
		w  *writer
	}
	var both []capture
	for _, server := range []testbed.Server{testbed.Primary, testbed.Secondary} {
		db := testbed.NewDatabase(t, server)
		itemsTable(db, 2000)
		r := newReplica()
		runStream(t, db, r, Options{})
		both = append(both, capture{db, r, startWriter(t, db, 2000)})
	}
	for _, c := range both {
		c.w.waitOps(t, 300)
		c.w.halt()
		c.r.waitFence(t, c.db, time.Minute)
		c.r.compare(t, c.db)
	}
}

// TestDisruptions kills the replication connection and restarts the server
// while a writer runs: nothing may be lost or applied twice.
func TestDisruptions(t *testing.T) {
	t.Parallel()
	server := testbed.NewPrivateServer(t)
	db := server.NewDatabase()
	itemsTable(db, 1000)
	r := newReplica()
	s := runStream(t, db, r, Options{})
	w := startWriter(t, db, 1000)

	for i := 0; i < 3; i++ {
		w.waitOps(t, int64(200*(i+1)))
		waitFor(t, "a walsender for the slot", func() bool { return activePID(t, server.AdminDSN(), s.src.SlotName()) != 0 })
		pid := activePID(t, server.AdminDSN(), s.src.SlotName())
		db.Exec(`SELECT pg_terminate_backend($1)`, pid)
	}
	w.waitOps(t, 800)
	server.Restart()
	w.waitOps(t, 1200)
	w.halt()
	r.waitFence(t, db, 2*time.Minute)
	r.compare(t, db)
}

// TestConfirmOnlyWhatIsDurable: a downstream that never acknowledges keeps
// the slot where it is; once it acknowledges, the slot moves.
func TestConfirmOnlyWhatIsDurable(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 10)
	r := newReplica()
	r.ack.Store(false)
	s := runStream(t, db, r, Options{StatusInterval: 200 * time.Millisecond})
	r.waitFence(t, db, time.Minute)
	before := confirmedFlush(t, db.AdminDSN(), s.src.SlotName())

	db.Exec(`INSERT INTO items (id, payload) SELECT g, 'later' FROM generate_series(100, 200) g`)
	r.waitFence(t, db, time.Minute)
	time.Sleep(time.Second) // five status intervals in which nothing may be confirmed
	if got := confirmedFlush(t, db.AdminDSN(), s.src.SlotName()); got != before {
		t.Fatalf("confirmed_flush_lsn moved from %s to %s without any acknowledgement", before, got)
	}

	r.mu.Lock()
	last := r.lastEnd
	r.mu.Unlock()
	s.Confirm(last)
	waitFor(t, "confirmed_flush_lsn to reach "+last.String(), func() bool {
		return confirmedFlush(t, db.AdminDSN(), s.src.SlotName()) >= last
	})
}

// TestIdleSourceFollowsServerWAL: while another database on the same server
// writes, the slot of a quiet database keeps up, so its retained WAL stays
// bounded.
func TestIdleSourceFollowsServerWAL(t *testing.T) {
	t.Parallel()
	server := testbed.NewPrivateServer(t)
	idle, busy := server.NewDatabase(), server.NewDatabase()
	itemsTable(idle, 10)
	r := newReplica()
	s := runStream(t, idle, r, Options{StatusInterval: 200 * time.Millisecond})
	r.waitFence(t, idle, time.Minute)

	busy.Exec(`CREATE TABLE filler (id int, pad text)`)
	for i := 0; i < 4; i++ {
		busy.Exec(`INSERT INTO filler SELECT g, repeat('p', 200) FROM generate_series(1, 50000) g`)
	}
	var endText string
	queryRow(t, server.AdminDSN(), `SELECT pg_current_wal_lsn()::text`, &endText)
	end, err := ParseLSN(endText)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle slot to confirm past the busy database's writes", func() bool {
		return confirmedFlush(t, server.AdminDSN(), s.src.SlotName()) >= end
	})
	waitFor(t, "retained WAL of the idle slot below 16 MiB", func() bool {
		busy.Exec(`CHECKPOINT`) // logs running transactions, which lets restart_lsn advance
		var retained int64
		queryRow(t, server.AdminDSN(), `SELECT pg_current_wal_lsn() - restart_lsn FROM pg_replication_slots WHERE slot_name = $1`,
			&retained, s.src.SlotName())
		return retained < 16<<20
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func confirmedFlush(t *testing.T, adminDSN, slot string) LSN {
	t.Helper()
	var s string
	queryRow(t, adminDSN, `SELECT coalesce(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots WHERE slot_name = $1`, &s, slot)
	lsn, err := ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

func activePID(t testing.TB, adminDSN, slot string) int {
	t.Helper()
	var pid *int
	// The subquery yields NULL, not no row, before the slot is created.
	queryRow(t, adminDSN, `SELECT (SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1)`, &pid, slot)
	if pid == nil {
		return 0
	}
	return *pid
}

func queryRow(t testing.TB, dsn, sql string, dest any, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql, args...).Scan(dest); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
