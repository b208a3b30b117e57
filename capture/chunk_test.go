package capture

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/internal/testbed"
)

// The chunked snapshot tests copy a table with a composite text key,
// (tenant, code), whose row g is (tenants[g%4], "c<g>"): text order is not
// g's order, and one tenant needs quoting.
var (
	accounts = Table{Schema: "public", Name: "accounts"}
	tenants  = []string{"a", "B", "o'brien", "é"}
)

func accountKey(g int64) (string, string) { return tenants[g%4], fmt.Sprintf("c%d", g) }

func accountsTable(db *testbed.Database, n int) {
	db.Exec(`CREATE TABLE accounts (tenant text, code text, v bigint NOT NULL DEFAULT 0, payload text NOT NULL,
		PRIMARY KEY (tenant, code))`)
	db.Exec(`CREATE TABLE fences (id text PRIMARY KEY)`)
	db.Exec(`INSERT INTO accounts (tenant, code, payload)
		SELECT (ARRAY['a', 'B', 'o''brien', 'é'])[g % 4 + 1], 'c' || g, repeat('x', g % 50) FROM generate_series(1, $1::int) g`, n)
}

// memProgress is a ChunkProgressStore in memory.
type memProgress struct {
	mu sync.Mutex
	p  []TableProgress
	// holdAt, when set, holds the copy once a table has this many rows
	// copied: recording that progress waits until resume, so a test can
	// stop the stream in the middle of a table however fast the machine
	// copies it.
	holdAt  int64
	held    chan struct{}
	release sync.Once
}

// resume lets a copy held at holdAt go on.
func (m *memProgress) resume() {
	m.release.Do(func() {
		if m.held != nil {
			close(m.held)
		}
	})
}

func (m *memProgress) ChunkProgress() ([]TableProgress, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.p), nil
}

func (m *memProgress) SetChunkProgress(p []TableProgress) error {
	m.mu.Lock()
	m.p = slices.Clone(p)
	m.mu.Unlock()
	if m.held == nil {
		return nil
	}
	for _, tp := range p {
		if !tp.Done && tp.Rows >= m.holdAt {
			<-m.held
		}
	}
	return nil
}

func (m *memProgress) get() []TableProgress {
	p, _ := m.ChunkProgress()
	return p
}

// upserts is a downstream that applies a chunked snapshot as the engine
// does: copied rows are upserts. It checks what the watermarks promise: a
// copied row never takes a row back to an older version (v only grows)
// and never brings back a deleted row.
type upserts struct {
	mu         sync.Mutex
	rows       map[string]int64 // v by key
	deleted    map[string]bool
	fences     map[string]bool
	violations []string
	ready      bool // the snapshot's opening transaction arrived
	lastEnd    LSN
	stream     *Stream
}

func newUpserts() *upserts {
	return &upserts{rows: map[string]int64{}, deleted: map[string]bool{}, fences: map[string]bool{}}
}

func (u *upserts) deliver(ctx context.Context, txn *Transaction) error {
	u.mu.Lock()
	if txn.Reset {
		u.rows = map[string]int64{}
	}
	u.ready = u.ready || txn.SnapshotDone
	if txn.EndLSN < u.lastEnd {
		u.violatef("transaction at %s after %s", txn.EndLSN, u.lastEnd)
	}
	u.lastEnd = txn.EndLSN
	for _, c := range txn.Changes {
		if c.Table == fencesTable {
			u.fences[fmt.Sprint(c.New["id"])] = true
			continue
		}
		row := c.New
		if c.Op == Delete {
			row = c.Old
		}
		k := fmt.Sprintf("%v/%v", row["tenant"], row["code"])
		switch c.Op {
		case Delete:
			delete(u.rows, k)
			u.deleted[k] = true
		case Read:
			if u.deleted[k] {
				u.violatef("copied row %s was deleted before", k)
			}
			if old, ok := u.rows[k]; ok && row["v"].(int64) < old {
				u.violatef("copied row %s takes v back from %d to %d", k, old, row["v"])
			}
			u.rows[k] = row["v"].(int64)
		default:
			u.rows[k] = row["v"].(int64)
		}
	}
	u.mu.Unlock()
	u.stream.Confirm(txn.EndLSN)
	return nil
}

func (u *upserts) violatef(format string, args ...any) {
	if len(u.violations) < 20 {
		u.violations = append(u.violations, fmt.Sprintf(format, args...))
	}
}

func (u *upserts) waitFence(t *testing.T, db *testbed.Database) {
	t.Helper()
	fence := testbed.UniqueName("fence_")
	db.Exec(`INSERT INTO fences (id) VALUES ($1)`, fence)
	waitFor(t, "fence "+fence, func() bool {
		u.mu.Lock()
		defer u.mu.Unlock()
		return u.fences[fence]
	})
}

func (u *upserts) compare(t *testing.T, db *testbed.Database) int {
	t.Helper()
	conn := db.Connect()
	rows, err := conn.Query(context.Background(), `SELECT tenant, code, v FROM accounts`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for rows.Next() {
		var tenant, code string
		var v int64
		if err := rows.Scan(&tenant, &code, &v); err != nil {
			t.Fatal(err)
		}
		want[tenant+"/"+code] = v
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.violations) > 0 {
		t.Errorf("watermark violations:\n%s", strings.Join(u.violations, "\n"))
	}
	var diffs []string
	for k, v := range want {
		got, ok := u.rows[k]
		switch {
		case !ok:
			diffs = append(diffs, "missing "+k)
		case got != v:
			diffs = append(diffs, fmt.Sprintf("%s: v=%d, table has %d", k, got, v))
		}
	}
	for k := range u.rows {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra "+k)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("captured state differs from the table in %d rows (table has %d), first: %s",
			len(diffs), len(want), strings.Join(diffs[:min(10, len(diffs))], "; "))
	}
	return len(want)
}

// accountWriter inserts, updates and deletes accounts until halted.
type accountWriter struct {
	db   *testbed.Database
	next atomic.Int64
	ops  atomic.Int64
	// deletes counts the deletes sent, whether or not they found a row.
	deletes atomic.Int64
	stop    chan struct{}
	done    chan struct{}
}

func startAccountWriter(t *testing.T, db *testbed.Database, n int64) *accountWriter {
	w := &accountWriter{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	w.next.Store(n)
	go w.run(t)
	t.Cleanup(w.halt)
	return w
}

func (w *accountWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *accountWriter) run(t *testing.T) {
	defer close(w.done)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, w.db.DSN())
	if err != nil {
		t.Errorf("writer: %v", err)
		return
	}
	defer conn.Close(ctx)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		g := 1 + rand.Int64N(w.next.Load())
		tenant, code := accountKey(g)
		var sql string
		args := []any{tenant, code}
		switch rand.IntN(10) {
		case 0, 1:
			tenant, code = accountKey(w.next.Add(1))
			sql, args = `INSERT INTO accounts (tenant, code, payload) VALUES ($1, $2, 'new')`, []any{tenant, code}
		case 2:
			sql = `DELETE FROM accounts WHERE tenant = $1 AND code = $2`
		default:
			sql = `UPDATE accounts SET v = v + 1 WHERE tenant = $1 AND code = $2`
		}
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Errorf("writer: %v", err)
			return
		}
		w.ops.Add(1)
		if strings.HasPrefix(sql, "DELETE") {
			w.deletes.Add(1)
		}
	}
}

// runChunked runs a stream over accounts in chunked mode from cp until the
// returned stop is called.
func runChunked(t *testing.T, db *testbed.Database, u *upserts, store *memProgress, cp Checkpoint) (*Stream, func()) {
	t.Helper()
	src := Source{Name: db.Name, DSN: db.DSN(), Tables: []Table{fencesTable, accounts}}
	s := NewStream(src, Options{StatusInterval: 200 * time.Millisecond, MaxBackoff: time.Second,
		Chunks: ChunkOptions{Mode: SnapshotChunked, Rows: 500, Progress: store}}, NewMetrics(prometheus.NewRegistry()), testLogger(t))
	u.stream = s
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, cp, u.deliver) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		store.resume()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stream stopped: %v", err)
		}
	}
	t.Cleanup(stop)
	return s, stop
}

func copiedRows(t *testing.T, s *Stream) float64 {
	t.Helper()
	m := s.metrics.snapshotRows.WithLabelValues(s.src.Name, accounts.String())
	return testutil.ToFloat64(m)
}

func tableDone(store *memProgress, tb Table) bool {
	for _, p := range store.get() {
		if p.Table == tb {
			return p.Done
		}
	}
	return false
}

// TestChunkedSnapshotWithRacingWrites copies a table with a composite
// text key in chunks while writes race the chunks: in the end the copy
// equals the table, no copied row ever overwrote a newer streamed one,
// the slot advanced during the copy, and no row was copied twice.
func TestChunkedSnapshotWithRacingWrites(t *testing.T) {
	needsLogicalMessages(t)
	t.Parallel()
	const n = 20000
	db := testbed.NewDatabase(t, testbed.Primary)
	accountsTable(db, n)
	u := newUpserts()
	store := &memProgress{}
	s, _ := runChunked(t, db, u, store, Checkpoint{})
	w := startAccountWriter(t, db, n)
	var firstConfirmed LSN
	waitFor(t, "the first chunks", func() bool {
		for _, p := range store.get() {
			if p.Table == accounts && p.Chunks >= 3 {
				return true
			}
		}
		return false
	})
	firstConfirmed = confirmedFlush(t, db.AdminDSN(), s.src.SlotName())
	waitFor(t, "the chunked copy to finish", func() bool { return tableDone(store, accounts) })
	if got := confirmedFlush(t, db.AdminDSN(), s.src.SlotName()); got <= firstConfirmed {
		t.Errorf("the slot stood at %s during the copy", got)
	}
	w.halt()
	u.waitFence(t, db)
	rows := u.compare(t, db)
	copied := copiedRows(t, s)
	t.Logf("copied %.0f rows for a table of %d (%d at the end), %d writes", copied, n, rows, w.ops.Load())
	if copied > 1.1*float64(n+int(w.ops.Load())) {
		t.Errorf("copied %.0f rows, more than 1.1 x the table", copied)
	}
}

// TestChunkedSnapshotResumes stops the stream in the middle of a chunked
// copy and starts it again from the applied position: the copy continues
// after the last chunk recorded, so the rows copied in both runs are at
// most 1.1 x the table, and the result equals the table.
func TestChunkedSnapshotResumes(t *testing.T) {
	needsLogicalMessages(t)
	t.Parallel()
	const n = 20000
	db := testbed.NewDatabase(t, testbed.Primary)
	accountsTable(db, n)
	u := newUpserts()
	store := &memProgress{holdAt: n / 2, held: make(chan struct{})}
	s, stop := runChunked(t, db, u, store, Checkpoint{})
	w := startAccountWriter(t, db, n)
	waitFor(t, "half of the table", func() bool {
		for _, p := range store.get() {
			if p.Table == accounts && p.Rows >= n/2 {
				return true
			}
		}
		return false
	})
	stop()
	first := copiedRows(t, s)
	var resumedAt TableProgress
	for _, p := range store.get() {
		if p.Table == accounts {
			resumedAt = p
		}
	}
	if resumedAt.Done || len(resumedAt.LastKey) != 2 {
		t.Fatalf("progress after the stop: %+v; want a table half copied", resumedAt)
	}
	u.mu.Lock()
	applied := u.lastEnd
	u.mu.Unlock()

	s, _ = runChunked(t, db, u, store, Checkpoint{SnapshotDone: true, Applied: applied})
	waitFor(t, "the chunked copy to finish", func() bool { return tableDone(store, accounts) })
	w.halt()
	u.waitFence(t, db)
	u.compare(t, db)
	second := copiedRows(t, s)
	total := first + second
	t.Logf("copied %.0f + %.0f rows for a table of %d; resumed after %v", first, second, n, resumedAt.LastKey)
	if second >= n {
		t.Errorf("the second run copied %.0f rows: it started over", second)
	}
	if total > 1.1*float64(n+int(w.ops.Load())/5) {
		t.Errorf("copied %.0f rows in both runs, more than 1.1 x the table", total)
	}
}

// TestSnapshotTablesCopiesAgain queues a table of a running source for
// another chunked copy: its rows are copied again while writes go on, and
// the result still equals the table. A table the source does not capture
// is refused.
func TestSnapshotTablesCopiesAgain(t *testing.T) {
	needsLogicalMessages(t)
	t.Parallel()
	const n = 5000
	db := testbed.NewDatabase(t, testbed.Primary)
	accountsTable(db, n)
	u := newUpserts()
	store := &memProgress{}
	s, _ := runChunked(t, db, u, store, Checkpoint{})
	waitFor(t, "the first copy", func() bool { return tableDone(store, accounts) })
	before := copiedRows(t, s)
	w := startAccountWriter(t, db, n)
	if err := s.SnapshotTables(Table{Schema: "public", Name: "nope"}); err == nil {
		t.Error("SnapshotTables accepted a table the source does not capture")
	}
	if err := s.SnapshotTables(accounts); err != nil {
		t.Fatal(err)
	}
	// The queued copy's own entry says when it is done: the writer's
	// deletes may leave fewer than n rows for it to read.
	waitFor(t, "the second copy", func() bool {
		for _, p := range store.get() {
			if p.Table == accounts {
				return p.Requested && p.Done
			}
		}
		return false
	})
	w.halt()
	u.waitFence(t, db)
	u.compare(t, db)
	// Every row of the first n that no delete removed was there for the
	// whole second copy, so the copy read it.
	if again, least := copiedRows(t, s)-before, float64(n-w.deletes.Load()); again < least {
		t.Errorf("the second copy read %.0f rows; at least %.0f of the table were there throughout", again, least)
	}
}

// needsLogicalMessages skips a test of chunked copies on servers before
// PostgreSQL 14, whose pgoutput sends no logical decoding messages (the
// watermarks): TestSnapshotModeDecision checks that chunked is refused
// there with a message that says so.
func needsLogicalMessages(t *testing.T) {
	t.Helper()
	if v := serverVersion(t, testbed.Primary); v < 140000 {
		t.Skipf("chunked snapshots need PostgreSQL 14 or later; this server is %d", v)
	}
}
