package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/sink"
)

// matrixColumn is one column of the type matrix: its SQL type and the
// values rows take in turn, as SQL expressions.
type matrixColumn struct {
	name   string
	typ    string
	values []string
}

// matrixColumns follows the chapters of PostgreSQL 15's "Data Types", with
// the values at the edges of what each type holds. Every value must reach
// the view: docs/types.md lists nothing the engine cannot hold.
var matrixColumns = []matrixColumn{
	{"i2", "smallint", []string{"-32768", "32767", "0"}},
	{"i4", "integer", []string{"-2147483648", "2147483647"}},
	{"i8", "bigint", []string{"-9223372036854775808", "9223372036854775807"}},
	{"num", "numeric", []string{"'NaN'", "'Infinity'", "'-Infinity'", "-0.0", "'12.50'", "repeat('9', 1000)::numeric", "('0.' || repeat('0', 400) || '1')::numeric"}},
	{"num_fixed", "numeric(12,4)", []string{"1.5", "-99999999.9999"}},
	{"f4", "real", []string{"'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "1.1", "3.4e38"}},
	{"f8", "double precision", []string{"'NaN'", "'-Infinity'", "'-0'", "1e-320", "1.7976931348623157e308", "0.1"}},
	{"cash", "money", []string{"'-92233720368547758.08'", "12.34"}},
	{"ch", "char(5)", []string{"'ab'", "''"}},
	{"vc", "varchar(10)", []string{"'héllo'", "''"}},
	{"txt", "text", []string{"repeat('long text ', 20000)", "'quote \" back\\slash' || chr(10) || 'tab' || chr(9)", "''", "'✓ 𝄞'"}},
	{"kw", "text", []string{"repeat('k', 40000)", "'short'"}},
	{"bin", "bytea", []string{"decode(repeat('ab', 32768), 'hex')", "'\\x'::bytea", "'\\x00ff'::bytea"}},
	{"d", "date", []string{"'infinity'", "'-infinity'", "'0001-01-01 BC'", "'4713-01-01 BC'", "'10000-01-01'", "'5874897-12-31'", "'2024-02-29'"}},
	{"ts", "timestamp", []string{"'infinity'", "'-infinity'", "'0044-03-15 12:00:00 BC'", "'294276-12-31 23:59:59.999999'", "'2000-01-01 00:00:00.000001'"}},
	{"tstz", "timestamptz", []string{"'-infinity'", "'infinity'", "'0001-01-01 00:00:00+00 BC'", "'20000-06-30 23:59:59+14'", "'1890-01-01 00:00:00+00'"}},
	{"tm", "time", []string{"'24:00:00'", "'00:00:00.000001'"}},
	{"tmtz", "timetz", []string{"'12:34:56+05:30'", "'00:00:00-15:59'"}},
	{"iv", "interval", []string{"'178000000 years'", "'-178000000 years'", "'1 year 2 mons -3 days 04:05:06.5'"}},
	{"b", "boolean", []string{"true", "false"}},
	{"mood", "\"odd schema\".mood", []string{"'happy'", "'so \"sad\"'"}},
	{"pt", "point", []string{"'(1.5,-2)'", "'(NaN,Infinity)'"}},
	{"ln", "line", []string{"'{1,-1,0}'"}},
	{"seg", "lseg", []string{"'[(0,0),(1,1)]'"}},
	{"bx", "box", []string{"'(1,1),(0,0)'"}},
	{"pth", "path", []string{"'[(0,0),(1,1),(2,0)]'", "'((0,0),(1,1))'"}},
	{"poly", "polygon", []string{"'((0,0),(1,1),(1,0))'"}},
	{"circ", "circle", []string{"'<(0,0),2>'"}},
	{"ip", "inet", []string{"'192.168.0.1/24'", "'::1'", "'10.0.0.1'"}},
	{"net", "cidr", []string{"'10.0.0.0/8'", "'2001:db8::/32'"}},
	{"mac", "macaddr", []string{"'08:00:2b:01:02:03'"}},
	{"mac8", "macaddr8", []string{"'08:00:2b:01:02:03:04:05'"}},
	{"bits", "bit(4)", []string{"B'1010'"}},
	{"vbits", "bit varying(100)", []string{"B''", "B'1'"}},
	{"tsv", "tsvector", []string{"to_tsvector('english', 'The quick brown foxes')", "''"}},
	{"tsq", "tsquery", []string{"to_tsquery('english', 'fox & !dog')"}},
	{"id", "uuid", []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}},
	{"x", "xml", []string{"('<a>' || repeat('x', 36000) || '</a>')::xml", "'<a b=\"1\"/>'"}},
	{"js", "json", []string{
		`'{"a": 1, "a": {"b": 2}}'`, `'[1, 2.5, "x", null]'`, `'"scalar"'`, `'null'`, `'18446744073709551616'`,
		`'{"": 1, "big": 1.5e300, "n": 18446744073709551616}'`, `'{"k": 1}'`, `'{"k": {"nested": true}}'`,
	}},
	{"jsb", "jsonb", []string{
		`'{"k": "text"}'`, `'{"k": {"obj": [1, 2.5, "mixed"]}}'`, `'[{"a": 1}, 2]'`, `'true'`, `'{"a.b": {"c": null}}'`, `'1.5e300'`,
	}},
	{"ints", "int[]", []string{"'[2:3]={1,2}'", "'{{1,2},{3,NULL}}'", "'{}'", "'[0:1][1:2]={{1,2},{3,4}}'"}},
	{"texts", "text[]", []string{`'{"a b",NULL,"NULL","","c\"d"}'`}},
	{"dates", "date[]", []string{"'{infinity,-infinity,2020-01-01,0001-01-01 BC,10000-01-01}'"}},
	{"floats", "float8[]", []string{"'{NaN,Infinity,-0,1.5}'"}},
	{"prices", "\"odd schema\".price[]", []string{"'{1.10,2.00}'", "'{}'"}},
	{"price", "\"odd schema\".price", []string{"'3.30'"}},
	{"pair", "\"odd schema\".pair", []string{"ROW(1, 'a \"b\"')::\"odd schema\".pair", "ROW(NULL, NULL)::\"odd schema\".pair"}},
	{"pairs", "\"odd schema\".pair[]", []string{"ARRAY[ROW(2, 'x,y')::\"odd schema\".pair, NULL]"}},
	{"r", "int4range", []string{"'[1,5)'", "'empty'", "'(,)'"}},
	{"tsr", "tstzrange", []string{"'[2020-01-01 00:00+00,infinity)'"}},
	{"mr", "int4multirange", []string{"'{[1,3),[5,7)}'", "'{}'"}},
	{"oidv", "oid", []string{"4294967295", "0"}},
	{"regc", "regclass", []string{"'pg_class'"}},
	{"lsn", "pg_lsn", []string{"'FFFFFFFF/FFFFFFFF'", "'0/0'"}},
	{"col with space", "text", []string{"'spaced'"}},
	{"dot.ted", "integer", []string{"7"}},
}

// typeMatrix is a database holding the matrix table, in a schema and
// table whose names have spaces and a dot, and a configuration with two views of it.
type typeMatrix struct {
	db     *testbed.Database
	search *testbed.Search
	cfg    string
	addr   string
	rows   int // rows of the snapshot, besides pk 0 (every column NULL)
	insert func(pk, shift int)
}

// newTypeMatrix creates the matrix table with rows 1..rows, each column
// taking its values in turn, and row 0 with every column NULL.
func newTypeMatrix(t *testing.T) *typeMatrix {
	t.Helper()
	m := &typeMatrix{db: testbed.NewDatabase(t, testbed.Primary), search: testbed.NewSearch(t), addr: freePort(t)}
	columns := matrixColumns
	if hasHstore(t, m.db) {
		columns = append(columns[:len(columns):len(columns)], matrixColumn{"kv", "hstore", []string{
			`'a=>1, b=>NULL, ""=>x, "k.k"=>"v\"q"'`, `''`,
		}}, matrixColumn{"kvs", "hstore[]", []string{`ARRAY['a=>1'::hstore, NULL]`}})
	}
	m.db.Exec(`CREATE SCHEMA "odd schema";
		CREATE TYPE "odd schema".mood AS ENUM ('happy', 'so "sad"');
		CREATE DOMAIN "odd schema".price AS numeric(10,2);
		CREATE TYPE "odd schema".pair AS (n int, s text);`)
	defs := []string{"pk int PRIMARY KEY"}
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = pgx.Identifier{c.name}.Sanitize()
		defs = append(defs, names[i]+" "+c.typ)
	}
	m.db.Exec(fmt.Sprintf(`CREATE TABLE "odd schema"."type.matrix v2" (%s)`, strings.Join(defs, ", ")))
	for _, c := range columns {
		m.rows = max(m.rows, len(c.values))
	}
	m.insert = func(pk, shift int) {
		vals := []string{fmt.Sprint(pk)}
		for _, c := range columns {
			vals = append(vals, c.values[(pk+shift)%len(c.values)])
		}
		m.db.Exec(fmt.Sprintf(`INSERT INTO "odd schema"."type.matrix v2" (pk, %s) VALUES (%s)`,
			strings.Join(names, ", "), strings.Join(vals, ", ")))
	}
	for pk := 1; pk <= m.rows; pk++ {
		m.insert(pk, 0)
	}
	m.db.Exec(`INSERT INTO "odd schema"."type.matrix v2" (pk) VALUES (0)`)
	m.cfg = writeConfig(t, fmt.Sprintf(`
sources:
  matrix: { dsn: %[1]q, slot: %[2]smatrix }
sink:
  urls: [%[3]q]
  index_prefix: %[2]s
  flush_interval: 100ms
state:
  dir: %[4]s
http:
  listen: %[5]s
views:
  - name: matrix
    root: { source: matrix, schema: odd schema, table: type.matrix v2 }
    settings: { replicas: 0 }
  - name: matrix_searchable
    root: { source: matrix, schema: odd schema, table: type.matrix v2 }
    numeric: number
    fields: { pk: pk, num: num, f8: f8, d: d, tstz: tstz, kw: kw, jsb: jsb }
    json: { jsb: stored }
    settings: { replicas: 0 }
`, m.db.DSN(), m.search.Prefix, m.search.URL, t.TempDir()+"/state", m.addr))
	return m
}

// check has the oracle compare both views with the table, and fails the
// test unless each holds docs documents and nothing was dead-lettered.
func (m *typeMatrix) check(t *testing.T, docs int) {
	t.Helper()
	verifyViews(t, m.cfg, nil, "matrix", "matrix_searchable")
	m.search.Refresh()
	for _, view := range []string{"matrix", "matrix_searchable"} {
		if n := matrixCount(t, m.search, m.search.Index(view)); n != docs {
			t.Errorf("view %s holds %d documents, want %d", view, n, docs)
		}
		dead := sink.DeadLetterIndex(m.search.Index(view))
		if n := matrixCount(t, m.search, dead); n != 0 {
			body, _ := m.search.Do("GET", "/"+dead+"/_search?size=3", nil)
			t.Errorf("view %s dead-lettered %d documents, want none: %.2000s", view, n, body)
		}
	}
}

// TestTypeMatrixSnapshotAndStream runs every type of the matrix through
// the daemon: rows present at the snapshot, then rows inserted, updated
// and deleted while it streams. The oracle compares every document with
// PostgreSQL's own rendering of the row, and nothing may be dead-lettered.
func TestTypeMatrixSnapshotAndStream(t *testing.T) {
	m := newTypeMatrix(t)
	d := startDaemon(t, m.cfg, m.addr)
	d.waitReady(2 * time.Minute)
	m.check(t, m.rows+1)
	// The snapshot held NaN and infinite floats and numerics, infinite
	// dates, a json object with a repeated key and arrays with bounds.
	families := d.metrics()
	for _, reason := range []string{"not_finite", "infinite_date", "json_repeated_key", "array_bounds"} {
		if n, _ := sample(families, "projector_lossy_values_total", map[string]string{"source": "matrix", "reason": reason}); n == 0 {
			t.Errorf("projector_lossy_values_total{reason=%q} is %v after the snapshot, want more than 0", reason, n)
		}
	}

	// Streaming: new rows, every column updated to the next value of its
	// list, an update that leaves the TOASTed text unchanged, deletes.
	rows := m.rows
	for pk := rows + 1; pk <= 2*rows; pk++ {
		m.insert(pk, 1)
	}
	for pk := 1; pk <= rows; pk += 2 {
		m.db.Exec(fmt.Sprintf(`DELETE FROM "odd schema"."type.matrix v2" WHERE pk = %d`, pk))
		m.insert(pk, 2)
	}
	m.db.Exec(`UPDATE "odd schema"."type.matrix v2" SET i2 = i2 + 1 WHERE pk % 2 = 0 AND i2 < 32767`)
	m.db.Exec(`UPDATE "odd schema"."type.matrix v2" SET txt = NULL, js = '{"k": [1]}' WHERE pk = 0`)
	m.db.Exec(fmt.Sprintf(`DELETE FROM "odd schema"."type.matrix v2" WHERE pk = %d`, 2*rows))
	m.check(t, 2*rows)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}

// hasHstore installs hstore in db when the server has the extension.
func hasHstore(t *testing.T, db *testbed.Database) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var available bool
	err := db.Connect().QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'hstore')`).Scan(&available)
	if err != nil {
		t.Fatal(err)
	}
	if !available {
		t.Log("hstore is not installed on the server: its columns are left out")
		return false
	}
	db.Exec(`CREATE EXTENSION hstore`)
	return true
}

// matrixCount counts the documents of an index; a missing index has none.
func matrixCount(t *testing.T, search *testbed.Search, index string) int {
	t.Helper()
	body, err := search.Do("GET", "/"+index+"/_count", nil)
	if err != nil {
		if strings.Contains(err.Error(), "index_not_found") || strings.Contains(err.Error(), "404") {
			return 0
		}
		t.Fatalf("count %s: %v", index, err)
	}
	var res struct {
		Count int `json:"count"`
	}
	if err := jsonUnmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	return res.Count
}
