package capture

import (
	"context"
	"fmt"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/projector-dev/projector/internal/testbed"
)

const everythingSchema = `
CREATE DOMAIN portion AS int4 CHECK (VALUE > 0);
CREATE DOMAIN label AS varchar(20);
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE everything (
	id int8 PRIMARY KEY,
	i2 int2, i4 int4, num numeric, f4 float4, f8 float8, ok bool,
	t text, vc varchar(10), bp char(4), nm name, u uuid,
	d date, ts timestamp, tstz timestamptz, tm time, iv interval,
	js json, jb jsonb, by bytea, md mood, pt portion, lb label,
	ia int4[], ta text[], ia2 int4[], ma mood[], pa portion[], na numeric[],
	inet_v inet, big text, bigj jsonb, note text
);
-- Stored out of line and uncompressed, so that an update leaving them
-- alone sends them as unchanged TOAST.
ALTER TABLE everything ALTER COLUMN big SET STORAGE EXTERNAL, ALTER COLUMN bigj SET STORAGE EXTERNAL;
-- A row in finish ends the test's stream on every version: pgoutput sends
-- logical decoding messages only from PostgreSQL 14 on.
CREATE TABLE finish (id int PRIMARY KEY);
CREATE PUBLICATION everything_pub FOR TABLE everything, finish;
`

const insertEverything = `INSERT INTO everything VALUES
(1, -32768, 2147483647, '12345678901234567890.12345678901234567890', 1.5, 3.25, true,
 'héllo', 'short', 'ab', 'pg_name', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
 '2024-02-29', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.123456+05:30', '13:45:06.5',
 '1 year 2 mons -3 days 04:05:06.5',
 '{"a": [1, 2]}', '{"b": 1, "a": [1, 2]}', '\x0102ff', 'happy', 3, 'chef',
 '{1,2,NULL}', '{"a b",NULL,""}', '{{1,2},{3,4}}', '{sad,happy}', '{1,2}', '{1.50,Infinity,-Infinity}',
 '10.0.0.1', repeat('projector ', 10000),
 (SELECT jsonb_build_object('items', jsonb_agg(jsonb_build_object('sku', g, 'name', 'item ' || g))) FROM generate_series(1, 3000) g),
 NULL),
(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(3, 0, 0, 'NaN', '-Infinity', 'NaN', false, '', '', '', '', '00000000-0000-0000-0000-000000000000',
 'infinity', '-infinity', 'infinity', '24:00:00', '0', 'null', '[]', '\x', 'sad', 1, '',
 '{}', '{}', '{}', '{}', '{}', '{NaN}', '::1', '', '{}', NULL)`

// A streamed transaction: larger than logical_decoding_work_mem, with a
// subtransaction rolled back after part of it was streamed.
const bigTransaction = `BEGIN;
INSERT INTO everything (id, t) SELECT g, repeat('x', 200) FROM generate_series(100, 1100) g;
SELECT pg_logical_emit_message(true, 'test', 'inside');
SAVEPOINT s;
INSERT INTO everything (id, t) SELECT g, repeat('y', 200) FROM generate_series(5000, 5500) g;
ROLLBACK TO SAVEPOINT s;
INSERT INTO everything (id, t) VALUES (1101, 'last');
COMMIT`

// TestDecodePostgres decodes what a real server sends for every supported
// type, in the text and in the binary format, through updates that leave
// TOASTed values out, schema changes, a streamed transaction with an
// aborted subtransaction, a truncate and a logical message, with the
// protocol projector picks for the server's version. PostgreSQL 13 has no
// binary format, no streaming and no messages in pgoutput: there the test
// checks that the large transaction arrives whole at its commit.
func TestDecodePostgres(t *testing.T) {
	formats := []bool{false, true}
	if serverVersion(t, testbed.Primary) < 140000 {
		formats = formats[:1]
	}
	for _, binary := range formats {
		name := map[bool]string{false: "text", true: "binary"}[binary]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testDecodePostgres(t, binary)
		})
	}
}

func testDecodePostgres(t *testing.T, binary bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`ALTER DATABASE ` + pgx.Identifier{db.Name}.Sanitize() + ` SET logical_decoding_work_mem = '64kB'`)
	db.Exec(everythingSchema)
	version := serverVersion(t, testbed.Primary)
	proto, err := protocolForVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	repl := startReplication(ctx, t, db, proto, binary)

	// Numeric infinity came with PostgreSQL 14.
	numericInf := version >= 140000
	if numericInf {
		db.Exec(insertEverything)
	} else {
		db.Exec(strings.Replace(insertEverything, "'{1.50,Infinity,-Infinity}'", "'{1.50,NaN}'", 1))
	}
	db.Exec(`UPDATE everything SET note = 'updated' WHERE id = 1`)
	db.Exec(`DELETE FROM everything WHERE id = 2`)
	db.Exec(`ALTER TABLE everything ADD COLUMN extra int; INSERT INTO everything (id, extra) VALUES (4, 7)`)
	db.Exec(`ALTER TABLE everything DROP COLUMN extra; INSERT INTO everything (id) VALUES (5)`)
	db.Exec(bigTransaction)
	db.Exec(`TRUNCATE everything`)
	db.Exec(`SELECT pg_logical_emit_message(false, 'test', 'done')`)
	db.Exec(`INSERT INTO finish VALUES (1)`)

	dec := proto.newDecoder("test", NewCatalogTypes(db.Connect()))
	txns, sizes := readUntilDone(ctx, t, repl, dec)
	want := 9 // with the message "done"
	if !proto.Messages {
		want = 8
	}
	if len(txns) != want {
		t.Fatalf("got %d transactions, want %d: %s", len(txns), want, dump(txns))
	}
	inserted := checkInserts(t, txns[0], numericInf)
	checkUpdate(t, txns[1], inserted[1])
	mustEqual(t, txns[2].Changes, []Change{{Op: Delete, Table: everythingTable, Key: []string{"id"}, Old: Row{"id": int64(2)}}})
	checkSchemaChanges(t, txns[3], txns[4])
	checkStreamed(t, txns[5], sizes, proto)
	mustEqual(t, txns[6].Changes, []Change{{Op: Truncate, Table: everythingTable, Key: []string{"id"}}})
	if proto.Messages {
		if m := txns[7].Messages; len(m) != 1 || string(m[0].Content) != "done" || m[0].Transactional {
			t.Fatalf("non-transactional message: %s", dump(txns[7]))
		}
	}
	for _, txn := range txns[:7] {
		if txn.XID == 0 || txn.CommitLSN == 0 || txn.EndLSN <= txn.CommitLSN || txn.CommitTime.IsZero() {
			t.Errorf("transaction misses its position: xid %d commit %s end %s at %s", txn.XID, txn.CommitLSN, txn.EndLSN, txn.CommitTime)
		}
	}
}

var everythingTable = Table{Schema: "public", Name: "everything"}

// serverVersion reads server_version_num of server.
func serverVersion(t *testing.T, server testbed.Server) int {
	t.Helper()
	db := testbed.NewDatabase(t, server)
	var num int
	queryRow(t, db.DSN(), `SELECT current_setting('server_version_num')::int`, &num)
	return num
}

// startReplication creates a publication's temporary slot and starts
// streaming it with the plugin options projector uses for proto.
func startReplication(ctx context.Context, t *testing.T, db *testbed.Database, proto protocol, binary bool) *pgconn.PgConn {
	t.Helper()
	repl, err := pgconn.Connect(ctx, db.DSN()+"&replication=database")
	if err != nil {
		t.Fatalf("replication connection: %v", err)
	}
	t.Cleanup(func() { repl.Close(context.Background()) })
	// Slot names are unique per server, database names too.
	slot, err := pglogrepl.CreateReplicationSlot(ctx, repl, db.Name, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true})
	if err != nil {
		t.Fatalf("create slot: %v", err)
	}
	start, err := pglogrepl.ParseLSN(slot.ConsistentPoint)
	if err != nil {
		t.Fatal(err)
	}
	args := proto.pluginArgs("everything_pub")
	if binary {
		args = append(args, "binary 'true'")
	}
	err = pglogrepl.StartReplication(ctx, repl, db.Name, start, pglogrepl.StartReplicationOptions{PluginArgs: args})
	if err != nil {
		t.Fatalf("start replication: %v", err)
	}
	return repl
}

// readUntilDone feeds the stream to dec until the insert into finish and
// returns the transactions with changes or messages, and the sizes of the
// messages that arrived, by message type.
func readUntilDone(ctx context.Context, t *testing.T, conn *pgconn.PgConn, dec *Decoder) ([]*Transaction, map[byte][]int) {
	t.Helper()
	var txns []*Transaction
	sizes := map[byte][]int{}
	var received pglogrepl.LSN
	for {
		msg, err := conn.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("receive replication message after %d transactions: %v", len(txns), err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 {
			continue
		}
		switch cd.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
			if err != nil {
				t.Fatal(err)
			}
			if ka.ReplyRequested {
				err = pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: received})
				if err != nil {
					t.Fatal(err)
				}
			}
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
			if err != nil {
				t.Fatal(err)
			}
			received = max(received, xld.WALStart)
			sizes[xld.WALData[0]] = append(sizes[xld.WALData[0]], len(xld.WALData))
			txn, err := dec.Decode(ctx, LSN(xld.WALStart), xld.WALData)
			if err != nil {
				t.Fatal(err)
			}
			if txn == nil || len(txn.Changes)+len(txn.Messages) == 0 {
				continue
			}
			txns = append(txns, txn)
			if c := txn.Changes; len(c) == 1 && c[0].Table.Name == "finish" {
				return txns, sizes
			}
		}
	}
}

// checkInserts compares the three inserted rows value by value and returns
// them by id.
func checkInserts(t *testing.T, txn *Transaction, numericInf bool) map[int64]Row {
	t.Helper()
	if len(txn.Changes) != 3 {
		t.Fatalf("first transaction: got %d changes, want 3", len(txn.Changes))
	}
	rows := map[int64]Row{}
	for _, c := range txn.Changes {
		if c.Op != Insert || c.Table != everythingTable || c.Old != nil || c.Unchanged != nil {
			t.Fatalf("insert: %s", dump(c))
		}
		rows[c.New["id"].(int64)] = c.New
	}
	want1 := row1()
	if !numericInf {
		want1["na"] = []any{Numeric("1.50"), Numeric("NaN")}
	}
	checkRow(t, rows[1], want1)
	checkRow(t, rows[2], row2())
	checkRow(t, rows[3], row3())
	return rows
}

func checkRow(t *testing.T, got, want Row) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("row %v: column %s missing", want["id"], name)
			continue
		}
		if !sameValue(g, w) {
			t.Errorf("row %v: column %s: got %s, want %s", want["id"], name, short(g), short(w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("row %v: unexpected column %s", want["id"], name)
		}
	}
}

func short(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 200 {
		return s[:200] + fmt.Sprintf("... (%d characters)", len(s))
	}
	return s
}

func checkUpdate(t *testing.T, txn *Transaction, before Row) {
	t.Helper()
	if len(txn.Changes) != 1 {
		t.Fatalf("update: got %s", dump(txn.Changes))
	}
	c := txn.Changes[0]
	mustEqual(t, c.Unchanged, []string{"big", "bigj"})
	if c.Op != Update || c.Old != nil || c.New["note"] != "updated" {
		t.Fatalf("update: %s", short(c))
	}
	for _, name := range c.Unchanged {
		if _, ok := c.New[name]; ok {
			t.Fatalf("unchanged TOAST column %s is in New", name)
		}
	}
	// A consumer that keeps the previous row fills in what was not resent.
	merged := maps.Clone(c.New)
	for _, name := range c.Unchanged {
		merged[name] = before[name]
	}
	want := maps.Clone(before)
	want["note"] = "updated"
	checkRow(t, merged, want)
	if len(merged["big"].(string)) != 100000 {
		t.Fatalf("merged big value has %d characters", len(merged["big"].(string)))
	}
}

func checkSchemaChanges(t *testing.T, added, dropped *Transaction) {
	t.Helper()
	if len(added.Changes) != 1 || len(dropped.Changes) != 1 {
		t.Fatalf("schema changes: %s %s", dump(added.Changes), dump(dropped.Changes))
	}
	row4, row5 := added.Changes[0].New, dropped.Changes[0].New
	columns := len(row1())
	if row4["extra"] != int64(7) || len(row4) != columns+1 {
		t.Errorf("row after ADD COLUMN: extra = %#v, %d columns", row4["extra"], len(row4))
	}
	if _, ok := row5["extra"]; ok || len(row5) != columns || row5["id"] != int64(5) {
		t.Errorf("row after DROP COLUMN: %s", short(row5))
	}
}

func checkStreamed(t *testing.T, txn *Transaction, sizes map[byte][]int, proto protocol) {
	t.Helper()
	for _, k := range []byte{'S', 'E', 'c', 'A'} {
		switch {
		case proto.Streaming && len(sizes[k]) == 0:
			t.Errorf("no %q message arrived: the server did not stream as expected", k)
		case !proto.Streaming && len(sizes[k]) > 0:
			t.Errorf("%d %q messages arrived without streaming", len(sizes[k]), k)
		}
	}
	// Under streaming 'parallel' the abort carries its LSN and time.
	wantAbort := 1 + 8
	if proto.Parallel {
		wantAbort += 16
	}
	for _, n := range sizes['A'] {
		if n != wantAbort {
			t.Errorf("stream abort of %d bytes, want %d for protocol %d", n, wantAbort, proto.Version)
		}
	}
	if len(txn.Changes) != 1002 {
		t.Fatalf("streamed transaction: got %d changes, want 1002", len(txn.Changes))
	}
	for i, c := range txn.Changes {
		if id := c.New["id"].(int64); id != int64(100+i) {
			t.Fatalf("change %d has id %d, want %d (rolled back rows must be gone)", i, id, 100+i)
		}
	}
	if !proto.Messages {
		if len(txn.Messages) != 0 {
			t.Fatalf("messages arrived without being asked for: %s", dump(txn.Messages))
		}
		return
	}
	if m := txn.Messages; len(m) != 1 || string(m[0].Content) != "inside" || !m[0].Transactional {
		t.Fatalf("streamed transaction messages: %s", dump(m))
	}
}

// The expected rows. Strings that the binary format yields the same way
// as the text one are written once.
func row1() Row {
	var items strings.Builder
	items.WriteString(`{"items": [`)
	for g := 1; g <= 3000; g++ {
		if g > 1 {
			items.WriteString(", ")
		}
		fmt.Fprintf(&items, `{"sku": %d, "name": "item %d"}`, g, g)
	}
	items.WriteString("]}")
	return Row{
		"id": int64(1), "i2": int64(-32768), "i4": int64(2147483647),
		"num": Numeric("12345678901234567890.12345678901234567890"), "f4": 1.5, "f8": 3.25, "ok": true,
		"t": "héllo", "vc": "short", "bp": "ab  ", "nm": "pg_name", "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"d": utcTime(2024, 2, 29, 0, 0, 0, 0), "ts": utcTime(2024, 2, 29, 12, 34, 56, 123456000),
		"tstz": utcTime(2024, 2, 29, 7, 4, 56, 123456000), "tm": "13:45:06.5",
		"iv": "1 year 2 mons -3 days +04:05:06.5",
		"js": rawJSON(`{"a": [1, 2]}`), "jb": rawJSON(`{"a": [1, 2], "b": 1}`), "by": []byte{1, 2, 255},
		"md": "happy", "pt": int64(3), "lb": "chef",
		"ia": []any{int64(1), int64(2), nil}, "ta": []any{"a b", nil, ""},
		"ia2": []any{[]any{int64(1), int64(2)}, []any{int64(3), int64(4)}},
		"ma":  []any{"sad", "happy"}, "pa": []any{int64(1), int64(2)},
		"na":     []any{Numeric("1.50"), Numeric("Infinity"), Numeric("-Infinity")},
		"inet_v": "10.0.0.1", "big": strings.Repeat("projector ", 10000), "bigj": rawJSON(items.String()),
		"note": nil,
	}
}

func row2() Row {
	row := Row{}
	for name := range row1() {
		row[name] = nil
	}
	row["id"] = int64(2)
	return row
}

func row3() Row {
	return Row{
		"id": int64(3), "i2": int64(0), "i4": int64(0), "num": Numeric("NaN"), "f4": negInf, "f8": nan, "ok": false,
		"t": "", "vc": "", "bp": "    ", "nm": "", "u": "00000000-0000-0000-0000-000000000000",
		"d": "infinity", "ts": "-infinity", "tstz": "infinity", "tm": "24:00:00", "iv": "00:00:00",
		"js": rawJSON("null"), "jb": rawJSON("[]"), "by": []byte{}, "md": "sad", "pt": int64(1), "lb": "",
		"ia": []any{}, "ta": []any{}, "ia2": []any{}, "ma": []any{}, "pa": []any{}, "na": []any{Numeric("NaN")},
		"inet_v": "::1", "big": "", "bigj": rawJSON("{}"), "note": nil,
	}
}

var (
	nan    = math.NaN()
	negInf = math.Inf(-1)
)
