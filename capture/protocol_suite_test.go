package capture

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture/pgoutput"
	"github.com/projector-dev/projector/internal/testbed"
)

// TestProtocolSuite runs the same writes through a Stream under every
// pgoutput protocol version the server offers (1 always, 2 from
// PostgreSQL 14, 3 from 15, 4 from 16) and expects the same delivered
// transactions from each: inserts, an update that leaves a TOASTed value
// alone, a delete, a large transaction with a rolled-back subtransaction
// that commits and one that aborts, logical decoding messages and a
// truncate, each an ordinary commit (two-phase commit is never requested).
// Version 1 receives the large transactions whole at their commit; later
// versions receive them while they run, which pg_stat_replication_slots
// must show.
func TestProtocolSuite(t *testing.T) {
	t.Parallel()
	num := serverVersion(t, testbed.Primary)
	versions := pgoutput.Versions(num)
	if len(versions) == 0 {
		t.Fatalf("PostgreSQL %d offers no pgoutput protocol projector decodes", num)
	}
	want := suiteExpected(num >= 140000)
	for _, version := range versions {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			t.Parallel()
			got, streamed := runSuite(t, version)
			if diff := firstDifference(got, want); diff != "" {
				t.Fatalf("protocol %d delivered other transactions than expected: %s", version, diff)
			}
			if num < 140000 {
				return // no pg_stat_replication_slots, and only version 1
			}
			if version >= 2 && streamed == 0 {
				t.Errorf("protocol %d: the server streamed no transaction while it ran", version)
			}
			if version == 1 && streamed != 0 {
				t.Errorf("protocol 1: the server streamed %d transactions, which version 1 cannot", streamed)
			}
		})
	}
}

// suiteSchema is the source of the suite. body is stored out of line, so
// that an update leaving it alone sends it as unchanged TOAST; a row in
// finish ends the writes.
const suiteSchema = `
CREATE TABLE dishes (id int PRIMARY KEY, name text, note text, body text);
ALTER TABLE dishes ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE finish (id int PRIMARY KEY);
`

// suiteWrites are the scenarios, one transaction per string. The large
// ones exceed the database's logical_decoding_work_mem of 64kB.
var suiteWrites = []string{
	`INSERT INTO dishes VALUES (1, 'pho', NULL, repeat('projector ', 1000)), (2, 'laksa', 'hot', 'short')`,
	`UPDATE dishes SET note = 'spicy' WHERE id = 1`,
	`DELETE FROM dishes WHERE id = 2`,
	`BEGIN;
	INSERT INTO dishes (id, name) SELECT g, repeat('c', 200) FROM generate_series(100, 1099) g;
	SELECT pg_logical_emit_message(true, 'suite', 'inside');
	SAVEPOINT s;
	INSERT INTO dishes (id, name) SELECT g, repeat('s', 200) FROM generate_series(5000, 5499) g;
	ROLLBACK TO SAVEPOINT s;
	UPDATE dishes SET note = 'last' WHERE id = 1099;
	COMMIT`,
	`BEGIN;
	INSERT INTO dishes (id, name) SELECT g, repeat('a', 200) FROM generate_series(7000, 7999) g;
	DELETE FROM dishes WHERE id BETWEEN 100 AND 199;
	ROLLBACK`,
	`SELECT pg_logical_emit_message(false, 'suite', 'ping')`,
	`TRUNCATE dishes`,
	`INSERT INTO finish VALUES (1)`,
}

// suiteExpected lists the transactions the writes deliver, each as the
// lines suiteLines gives. Servers before 14 send no logical decoding
// messages.
func suiteExpected(messages bool) [][]string {
	body := strings.Repeat("projector ", 1000)
	large := []string{}
	for id := 100; id < 1100; id++ {
		large = append(large, "insert dishes key=[id] new="+rowLine(Row{"id": int64(id), "name": strings.Repeat("c", 200), "note": nil, "body": nil}))
	}
	large = append(large, "update dishes key=[id] new="+rowLine(Row{"id": int64(1099), "name": strings.Repeat("c", 200), "note": "last", "body": nil}))
	if messages {
		large = append(large, "message suite transactional inside")
	}
	want := [][]string{
		{
			"insert dishes key=[id] new=" + rowLine(Row{"id": int64(1), "name": "pho", "note": nil, "body": body}),
			"insert dishes key=[id] new=" + rowLine(Row{"id": int64(2), "name": "laksa", "note": "hot", "body": "short"}),
		},
		{"update dishes key=[id] new=" + rowLine(Row{"id": int64(1), "name": "pho", "note": "spicy"}) + " unchanged=[body]"},
		{"delete dishes key=[id] old=" + rowLine(Row{"id": int64(2)})},
		large,
	}
	if messages {
		want = append(want, []string{"message suite ping"})
	}
	return append(want, []string{"truncate dishes key=[id]"}, []string{"insert finish key=[id] new=" + rowLine(Row{"id": int64(1)})})
}

// runSuite streams a fresh database with protocol version pinned, runs the
// writes and returns the delivered transactions, as lines, and how many
// transactions the server streamed while they ran (0 before PostgreSQL
// 14, which does not count them).
func runSuite(t *testing.T, version int) ([][]string, int64) {
	db := testbed.NewDatabase(t, testbed.Primary)
	// The walsender reads the database's settings when it connects.
	db.Exec(`ALTER DATABASE ` + pgx.Identifier{db.Name}.Sanitize() + ` SET logical_decoding_work_mem = '64kB'`)
	db.Exec(suiteSchema)
	src := Source{Name: db.Name, DSN: db.DSN(), Tables: []Table{{Schema: "public", Name: "dishes"}, {Schema: "public", Name: "finish"}}}
	s := NewStream(src, Options{StatusInterval: 500 * time.Millisecond, MaxBackoff: time.Second},
		NewMetrics(prometheus.NewRegistry()), testLogger(t))
	s.protoVersion = version
	c := &suiteCollector{stream: s, snapshotDone: make(chan struct{}), finished: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		runErr = s.Run(ctx, Checkpoint{}, c.deliver)
	}()
	t.Cleanup(func() { cancel(); <-stopped })
	wait := func(what string, done <-chan struct{}) {
		t.Helper()
		select {
		case <-done:
		case <-stopped:
			t.Fatalf("protocol %d: the stream stopped before %s: %v", version, what, runErr)
		case <-time.After(2 * time.Minute):
			t.Fatalf("protocol %d: timed out waiting for %s", version, what)
		}
	}
	wait("the snapshot", c.snapshotDone)
	for _, sql := range suiteWrites {
		db.Exec(sql)
	}
	wait("the last write", c.finished)
	cancel()
	<-stopped
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		t.Fatalf("protocol %d: the stream stopped: %v", version, runErr)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var streamed int64
	if serverVersion(t, testbed.Primary) >= 140000 {
		// Statistics reach the view a little after the walsender decoded:
		// once it counts every delivered transaction, the large ones,
		// decoded before the last, are counted too.
		waitFor(t, "the slot's statistics", func() bool {
			var decoded int64
			queryRow(t, db.AdminDSN(), `SELECT coalesce((SELECT total_txns FROM pg_stat_replication_slots WHERE slot_name = $1), 0)`,
				&decoded, s.src.SlotName())
			return decoded >= c.committed
		})
		queryRow(t, db.AdminDSN(), `SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = $1`, &streamed, s.src.SlotName())
	}
	return c.txns, streamed
}

// suiteCollector keeps what a Stream delivers after the snapshot, as
// lines, and checks each transaction's position as it arrives.
type suiteCollector struct {
	stream       *Stream
	snapshotDone chan struct{}
	finished     chan struct{}

	mu       sync.Mutex
	snapshot bool // snapshotDone is closed
	txns     [][]string
	lastEnd  LSN
	// committed counts the delivered transactions, not the messages
	// delivered on their own.
	committed int64
}

func (c *suiteCollector) deliver(_ context.Context, txn *Transaction) error {
	defer c.stream.Confirm(txn.EndLSN)
	c.mu.Lock()
	defer c.mu.Unlock()
	if txn.Snapshot {
		if txn.SnapshotDone && !c.snapshot {
			c.snapshot = true
			close(c.snapshotDone)
		}
		return nil
	}
	if txn.Source != c.stream.src.Name || txn.EndLSN <= c.lastEnd || txn.CommitTime.IsZero() ||
		(len(txn.Changes) > 0 && (txn.XID == 0 || txn.EndLSN <= txn.CommitLSN)) {
		return fmt.Errorf("transaction %d out of place: source %q, commit %s, end %s after %s, at %s",
			txn.XID, txn.Source, txn.CommitLSN, txn.EndLSN, c.lastEnd, txn.CommitTime)
	}
	c.lastEnd = txn.EndLSN
	if txn.XID != 0 {
		c.committed++
	}
	lines := suiteLines(txn)
	c.txns = append(c.txns, lines)
	if slices.Contains(lines, "insert finish key=[id] new="+rowLine(Row{"id": int64(1)})) {
		close(c.finished)
	}
	return nil
}

// suiteLines describes a transaction's changes and messages, one line
// each, in order; positions differ between databases and are left out.
func suiteLines(txn *Transaction) []string {
	var lines []string
	for _, ch := range txn.Changes {
		line := fmt.Sprintf("%s %s key=%v", ch.Op, ch.Table.Name, ch.Key)
		if ch.Old != nil {
			line += " old=" + rowLine(ch.Old)
		}
		if ch.New != nil {
			line += " new=" + rowLine(ch.New)
		}
		if ch.Unchanged != nil {
			line += fmt.Sprintf(" unchanged=%v", ch.Unchanged)
		}
		lines = append(lines, line)
	}
	for _, m := range txn.Messages {
		kind := ""
		if m.Transactional {
			kind = " transactional"
		}
		lines = append(lines, fmt.Sprintf("message %s%s %s", m.Prefix, kind, m.Content))
	}
	return lines
}

// rowLine prints a row with its columns in order and long strings cut.
func rowLine(row Row) string {
	names := make([]string, 0, len(row))
	for name := range row {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := row[name]
		if s, ok := v.(string); ok && len(s) > 24 {
			v = s[:24] + "…(" + strconv.Itoa(len(s)) + ")"
		}
		fmt.Fprintf(&b, "%s:%#v", name, v)
	}
	return "{" + b.String() + "}"
}

// firstDifference says where two lists of transactions first differ, and
// is empty when they are equal.
func firstDifference(got, want [][]string) string {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("transaction %d is missing: %q", i, short(want[i]))
		case i >= len(want):
			return fmt.Sprintf("transaction %d is extra: %q", i, short(got[i]))
		}
		for j := range max(len(got[i]), len(want[i])) {
			switch {
			case j >= len(got[i]):
				return fmt.Sprintf("transaction %d has %d lines, want %d; line %d missing: %s", i, len(got[i]), len(want[i]), j, want[i][j])
			case j >= len(want[i]):
				return fmt.Sprintf("transaction %d has %d lines, want %d; line %d extra: %s", i, len(got[i]), len(want[i]), j, got[i][j])
			case got[i][j] != want[i][j]:
				return fmt.Sprintf("transaction %d line %d:\n got  %s\n want %s", i, j, got[i][j], want[i][j])
			}
		}
	}
	return ""
}
