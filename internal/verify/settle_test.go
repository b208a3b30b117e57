package verify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/projector-dev/projector/capture"
)

// onRecheck is a log handler that runs fn when the checker announces a
// re-check, i.e. after it has seen a mismatch and before it looks again.
type onRecheck struct {
	fn    func()
	calls atomic.Int32
}

func (h *onRecheck) Enabled(context.Context, slog.Level) bool { return true }
func (h *onRecheck) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *onRecheck) WithGroup(string) slog.Handler            { return h }
func (h *onRecheck) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "re-checking mismatches" && h.calls.Add(1) == 1 && h.fn != nil {
		h.fn()
	}
	return nil
}

func TestMismatchFixedWhileSettlingIsNotReported(t *testing.T) {
	f := newFixture(t)
	f.remove(t, "3")
	h := &onRecheck{fn: func() { f.write(t, map[string]string{"3": fixtureDocs["3"]}) }}
	rep := f.run(t, Options{Settle: 20 * time.Second}, slog.New(h))
	if h.calls.Load() == 0 {
		t.Fatal("the missing document was never re-checked")
	}
	if !rep.Clean() {
		t.Fatalf("a document restored while settling is reported: %+v", rep.Views[0])
	}
}

// staleTotal is document 2 with a total the source does not have.
var staleTotal = strings.Replace(fixtureDocs["2"], `"7.00"`, `"7.01"`, 1)

// checkStaleTotal asserts the report holds document 2's total as its only drift.
func checkStaleTotal(t *testing.T, rep Report) {
	t.Helper()
	got := rep.Views[0]
	if got.Stale != 1 || len(got.Diffs) != 1 || len(got.Diffs[0].Fields) != 1 {
		t.Fatalf("got %+v, want one stale document with one field diff", got)
	}
	if fd := got.Diffs[0].Fields[0]; fd.Path != "total" || fd.Want != "7" || fd.Got != "7.01" {
		t.Errorf("field diff %+v, want total: 7 vs 7.01", fd)
	}
}

// With no daemon reading the sources nothing can change the index, so a
// mismatch is drift after one re-check, not after the settle period.
func TestPersistentMismatchIsReportedWithoutWaiting(t *testing.T) {
	f := newFixture(t)
	f.write(t, map[string]string{"2": staleTotal})
	h := &onRecheck{}
	start := time.Now()
	// A settle period far beyond the run's own duration, even on a loaded
	// machine, tells waiting for it from not waiting without a tight bound.
	rep := f.run(t, Options{Settle: time.Hour}, slog.New(h))
	if took := time.Since(start); took > 10*time.Minute {
		t.Errorf("verify took %v; it waited for the settle period although no daemon was running", took)
	}
	if h.calls.Load() == 0 {
		t.Fatal("the stale document was never re-checked")
	}
	checkStaleTotal(t, rep)
}

// reader stands in for the daemon: it holds the orders source's slot open
// and confirms positions when told to.
type reader struct {
	conn *pgconn.PgConn
	f    *fixture
}

func newReader(t *testing.T, f *fixture) *reader {
	t.Helper()
	slot := capture.Source{Name: "orders", Slot: f.orders.Name}.SlotName() // as newFixture configures it
	f.orders.Exec(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, slot)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := f.orders.DSN()
	if strings.Contains(dsn, "?") {
		dsn += "&replication=database"
	} else {
		dsn += "?replication=database"
	}
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("open a replication connection: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	if err := pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{}); err != nil {
		t.Fatalf("start replication: %v", err)
	}
	// WAL written after the slot's creation, which it has not confirmed.
	f.orders.Exec(`CREATE TABLE noise (id int); INSERT INTO noise VALUES (1)`)
	return &reader{conn: conn, f: f}
}

// confirm reports the server's current WAL position as done. It runs on
// the follower's goroutine, so it returns its errors rather than calling
// the test's helpers: testbed's Connect would register a clean-up that
// closes the connection while this goroutine may still be using it.
func (r *reader) confirm() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.f.orders.DSN())
	if err != nil {
		return fmt.Errorf("connect to read the WAL position: %w", err)
	}
	defer conn.Close(context.Background())
	var text string
	if err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&text); err != nil {
		return fmt.Errorf("read the WAL position: %w", err)
	}
	pos, err := pglogrepl.ParseLSN(text)
	if err != nil {
		return fmt.Errorf("parse %q: %w", text, err)
	}
	err = pglogrepl.SendStandbyStatusUpdate(ctx, r.conn,
		pglogrepl.StandbyStatusUpdate{WALWritePosition: pos, WALFlushPosition: pos, WALApplyPosition: pos})
	if err != nil {
		return fmt.Errorf("confirm %s: %w", pos, err)
	}
	return nil
}

// follow confirms the current WAL position every 100 ms, as a daemon that
// has caught up does on keepalives, until the test ends. The clean-up
// that stops it runs before the replication connection's is closed,
// since it is registered later.
func (r *reader) follow(t *testing.T) {
	stop, stopped := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-stopped })
	go func() {
		defer close(stopped)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := r.confirm(); err != nil {
				t.Error(err)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
}

// While the daemon has not confirmed what was written before the re-check,
// the index may still change: verify waits for it, and a document the
// daemon fixes before confirming is no drift.
func TestMismatchWaitsForTheDaemonToConfirm(t *testing.T) {
	f := newFixture(t)
	r := newReader(t, f)
	f.write(t, map[string]string{"2": staleTotal})
	// verify runs on its own goroutine, and the test's goroutine plays
	// the daemon: the test's helpers, and the clean-ups they register,
	// stay on the goroutine they belong to.
	rechecking := make(chan struct{})
	h := &onRecheck{fn: func() { close(rechecking) }}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	type result struct {
		rep Report
		err error
	}
	ran := make(chan result, 1)
	go func() {
		rep, err := Run(ctx, f.cfg, f.client, Options{Settle: time.Minute}, slog.New(h))
		ran <- result{rep, err}
	}()
	var res result
	defer func() {
		if ran != nil { // a helper failed first: end the run before the clean-ups
			cancel()
			<-ran
		}
	}()
	select {
	case <-rechecking:
	case res = <-ran:
		ran = nil
		t.Fatalf("verify ended without re-checking the stale document: %+v, %v", res.rep.Views, res.err)
	}
	// Later than a re-check that did not wait would look.
	time.Sleep(time.Second)
	f.write(t, map[string]string{"2": fixtureDocs["2"]})
	r.follow(t)
	res = <-ran
	ran = nil
	cancel()
	if res.err != nil {
		t.Fatalf("verify: %v", res.err)
	}
	if len(res.rep.Views) != 1 || !res.rep.Clean() {
		t.Fatalf("a document the daemon fixed before confirming is reported: %+v", res.rep.Views)
	}
}

// Once the daemon has confirmed past the re-check's WAL position, what
// still differs is drift: verify reports it without waiting any longer.
func TestMismatchIsDriftOnceTheDaemonConfirmed(t *testing.T) {
	f := newFixture(t)
	r := newReader(t, f)
	f.write(t, map[string]string{"2": staleTotal})
	h := &onRecheck{fn: func() { r.follow(t) }}
	start := time.Now()
	// A settle period far beyond the run's own duration, even on a loaded
	// machine, tells waiting for it from not waiting without a tight bound.
	rep := f.run(t, Options{Settle: time.Hour}, slog.New(h))
	if took := time.Since(start); took > 10*time.Minute {
		t.Errorf("verify took %v; it waited although the daemon had confirmed", took)
	}
	checkStaleTotal(t, rep)
}

// A daemon that never confirms is waited for until the settle period ends,
// then the mismatch is reported as it stands.
func TestMismatchIsReportedWhenTheDaemonLagsPastSettle(t *testing.T) {
	f := newFixture(t)
	newReader(t, f)
	f.write(t, map[string]string{"2": staleTotal})
	start := time.Now()
	rep := f.run(t, Options{Settle: 2 * time.Second}, quiet())
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("verify took %v; it did not wait for a daemon still behind", took)
	}
	checkStaleTotal(t, rep)
}
