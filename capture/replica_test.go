package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/internal/testbed"
)

// replica applies captured transactions to an in-memory copy of the items
// table and checks exactly-once delivery as it goes: every update must
// raise the row's v column by exactly one, inserts must be new and deletes
// must hit a present row, so a duplicate or a gap shows up as a violation.
type replica struct {
	mu         sync.Mutex
	rows       map[string]Row
	fences     map[string]LSN
	violations []string
	txns       int
	snapshot   bool // the snapshot is complete
	lastEnd    LSN
	ack        atomic.Bool
	gate       chan struct{} // when set, the first snapshot transaction waits on it
	stream     *Stream
	// release, when set, keeps copies of the rows and releases each
	// transaction once applied, as the engine does: a snapshot's later
	// chunks are then decoded into the rows of earlier ones.
	release bool
}

func newReplica() *replica {
	r := &replica{rows: map[string]Row{}, fences: map[string]LSN{}}
	r.ack.Store(true)
	return r
}

func (r *replica) deliver(ctx context.Context, txn *Transaction) error {
	if txn.Snapshot && r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	if txn.Reset {
		r.rows = map[string]Row{}
	}
	if txn.EndLSN < r.lastEnd {
		r.violate("transaction %d at %s arrived after %s", txn.XID, txn.EndLSN, r.lastEnd)
	}
	r.lastEnd = txn.EndLSN
	r.snapshot = r.snapshot || txn.SnapshotDone
	r.txns++
	for _, c := range txn.Changes {
		if c.Table == fencesTable {
			if c.Op == Insert {
				r.fences[fmt.Sprint(c.New["id"])] = txn.EndLSN
			}
			continue
		}
		if r.release {
			c.New, c.Old = maps.Clone(c.New), maps.Clone(c.Old)
		}
		r.apply(c)
	}
	r.mu.Unlock()
	if r.release {
		txn.Release()
	}
	if r.ack.Load() {
		r.stream.Confirm(txn.EndLSN)
	}
	return nil
}

func (r *replica) apply(c Change) {
	src := c.New
	if c.Op == Delete {
		src = c.Old
	}
	key := fmt.Sprint(src["id"])
	old, present := r.rows[key]
	switch c.Op {
	case Read:
		if present {
			r.violate("snapshot row %s twice", key)
		}
		r.rows[key] = c.New
	case Insert:
		if present {
			r.violate("insert of present row %s", key)
		}
		r.rows[key] = c.New
	case Update:
		if !present {
			r.violate("update of missing row %s", key)
			return
		}
		if c.New["v"] != old["v"].(int64)+1 {
			r.violate("row %s jumped from v=%v to v=%v", key, old["v"], c.New["v"])
		}
		for _, col := range c.Unchanged {
			c.New[col] = old[col]
		}
		r.rows[key] = c.New
	case Delete:
		if !present {
			r.violate("delete of missing row %s", key)
		}
		delete(r.rows, key)
	}
}

func (r *replica) violate(format string, args ...any) {
	if len(r.violations) < 20 {
		r.violations = append(r.violations, fmt.Sprintf(format, args...))
	}
}

// fencesTable holds the fences waitFence writes. A row rather than a
// logical decoding message, because pgoutput sends messages only from
// PostgreSQL 14 on.
var fencesTable = Table{Schema: "public", Name: "fences"}

// waitFence writes a fence row into the source and waits until it comes
// out of the stream: then everything committed before it has been
// delivered.
func (r *replica) waitFence(t *testing.T, db *testbed.Database, timeout time.Duration) {
	t.Helper()
	// A message written before the slot exists would never arrive.
	waitFor(t, "the snapshot to complete", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.snapshot
	})
	fence := testbed.UniqueName("fence_")
	db.Exec(`INSERT INTO fences (id) VALUES ($1)`, fence)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		_, ok := r.fences[fence]
		r.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fence %s did not come through the stream within %s", fence, timeout)
}

// compare checks that the replica equals the table now.
func (r *replica) compare(t *testing.T, db *testbed.Database) {
	t.Helper()
	conn := db.Connect()
	rows, err := conn.Query(context.Background(), `SELECT id, v, payload FROM items`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for rows.Next() {
		var id, v int64
		var payload string
		if err := rows.Scan(&id, &v, &payload); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprint(id)] = fmt.Sprintf("v=%d len=%d", v, len(payload))
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) > 0 {
		t.Errorf("exactly-once violations:\n%s", strings.Join(r.violations, "\n"))
	}
	var diffs []string
	for k, w := range want {
		row, ok := r.rows[k]
		if !ok {
			diffs = append(diffs, "missing row "+k)
			continue
		}
		p, _ := row["payload"].(string)
		if got := fmt.Sprintf("v=%d len=%d", row["v"], len(p)); got != w {
			diffs = append(diffs, fmt.Sprintf("row %s: captured %s, table has %s", k, got, w))
		}
	}
	for k := range r.rows {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra row "+k)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("captured state differs from the table in %d rows (table has %d), first: %s",
			len(diffs), len(want), strings.Join(diffs[:min(10, len(diffs))], "; "))
	}
	t.Logf("captured state equals the table: %d rows, %d transactions", len(want), r.txns)
}

// itemsTable creates the items table with n rows, and the fences table.
func itemsTable(db *testbed.Database, n int) {
	db.Exec(`CREATE TABLE items (id bigint PRIMARY KEY, v bigint NOT NULL DEFAULT 0, payload text NOT NULL)`)
	db.Exec(`CREATE TABLE fences (id text PRIMARY KEY)`)
	db.Exec(`INSERT INTO items (id, payload) SELECT g, repeat('x', g % 100) FROM generate_series(1, $1::int) g`, n)
}

// writer runs random inserts, updates and deletes on items until stopped,
// tolerating connection loss so it can run through server restarts.
type writer struct {
	db     *testbed.Database
	nextID atomic.Int64
	ops    atomic.Int64
	stop   chan struct{}
	done   chan struct{}
}

func startWriter(t *testing.T, db *testbed.Database, firstID int64) *writer {
	w := &writer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	w.nextID.Store(firstID)
	go w.run(t)
	t.Cleanup(w.halt)
	return w
}

func (w *writer) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *writer) run(t *testing.T) {
	defer close(w.done)
	ctx := context.Background()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(ctx)
		}
	}()
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		if conn == nil || conn.IsClosed() {
			c, err := pgx.Connect(ctx, w.db.DSN())
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			conn = c
		}
		if err := w.step(ctx, conn); err != nil {
			conn.Close(ctx)
			conn = nil
		}
	}
}

// step runs one small transaction of 1 to 3 statements.
func (w *writer) step(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	for i := 0; i < 1+rand.IntN(3); i++ {
		maxID := w.nextID.Load()
		var sql string
		var args []any
		switch rand.IntN(10) {
		case 0, 1, 2:
			sql, args = `INSERT INTO items (id, payload) VALUES ($1, $2)`, []any{w.nextID.Add(1), strings.Repeat("y", rand.IntN(200))}
		case 3:
			sql, args = `DELETE FROM items WHERE id = $1`, []any{1 + rand.Int64N(maxID)}
		default:
			sql, args = `UPDATE items SET v = v + 1, payload = $2 WHERE id = $1`, []any{1 + rand.Int64N(maxID), strings.Repeat("z", rand.IntN(200))}
		}
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	w.ops.Add(1)
	return nil
}

func (w *writer) waitOps(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for w.ops.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("writer managed only %d of %d transactions in a minute", w.ops.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// runStream starts a stream over the items table and stops it when the test
// ends.
func runStream(t *testing.T, db *testbed.Database, r *replica, opts Options) *Stream {
	t.Helper()
	return runStreamWith(t, db, r, opts, nil)
}

// runStreamWith is runStream with RunWith's non-blocking delivery try.
func runStreamWith(t *testing.T, db *testbed.Database, r *replica, opts Options, try TryDeliverFunc) *Stream {
	t.Helper()
	src := Source{Name: db.Name, DSN: db.DSN(), Tables: []Table{{Schema: "public", Name: "items"}, fencesTable}}
	if opts.StatusInterval == 0 {
		opts.StatusInterval = 500 * time.Millisecond
	}
	opts.MaxBackoff = time.Second
	s := NewStream(src, opts, NewMetrics(prometheus.NewRegistry()), testLogger(t))
	r.stream = s
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.RunWith(ctx, Checkpoint{}, r.deliver, try) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stream stopped: %v", err)
		}
	})
	return s
}
