package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/sink"
)

// The documents projector writes for the fixture's rows. Document 1 is
// written with a "+00:00" offset, reordered JSON keys and reordered has_many
// elements, which must all still compare equal.
var fixtureDocs = map[string]string{
	"1": `{"id":1,"placed_at":"2024-03-01T12:00:00+00:00","total":"12.50","tags":["a","b"],
		"meta":{"y":{"z":[1,2]},"x":1},"status":"placed","weight":1.100000023841858,"note":"AQI=",
		"customer":{"name":"Ann","contact_email":"ann@example.com","address":{"city":"Oslo"}},
		"lines":[{"sku":"pear","qty":1},{"qty":2,"sku":"apple"}]}`,
	"2": `{"id":2,"placed_at":"2024-03-02T06:30:00.5Z","total":"7.00","tags":[],"meta":null,
		"status":"delivered","weight":null,"note":null,"customer":null,"lines":[]}`,
	"3": `{"id":3,"placed_at":"2024-03-03T00:00:00Z","total":null,"tags":null,"meta":[],
		"status":"placed","weight":null,"note":null,
		"customer":{"name":"Bob","contact_email":null,"address":null},"lines":[{"sku":"fig","qty":3}]}`,
}

const fixtureViews = `
views:
  - name: orders
    root: { source: orders, table: orders }
    fields: [id, placed_at, total, tags, meta, status, weight, note]
    relations:
      - name: customer
        type: belongs_to
        source: people
        table: customers
        on: { customer_id: id }
        fields: { name: name, email: contact_email }
        relations:
          - name: address
            type: has_one
            source: people
            table: addresses
            on: { id: customer_id }
            fields: [city]
      - name: lines
        type: has_many
        source: orders
        table: order_lines
        on: { id: order_id }
        fields: [sku, qty]
`

type fixture struct {
	cfg    *config.Config
	client *sink.Client
	search *testbed.Search
	index  string
	// orders is the database of the orders source.
	orders *testbed.Database
}

// newFixture creates the orders database on the primary server, the people
// database on the secondary one, a configuration naming both and an index
// holding the documents projector would write.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	orders := testbed.NewDatabase(t, testbed.Primary)
	people := testbed.NewDatabase(t, testbed.Secondary)
	search := testbed.NewSearch(t)
	orders.Exec(`CREATE TYPE order_status AS ENUM ('placed', 'delivered')`)
	orders.Exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int, placed_at timestamptz NOT NULL,
		total numeric(10,2), tags text[], meta jsonb, status order_status, weight real, note bytea)`)
	orders.Exec(`CREATE TABLE order_lines (id int PRIMARY KEY, order_id bigint, sku text, qty int)`)
	orders.Exec(`INSERT INTO orders VALUES
		(1, 10, '2024-03-01 12:00:00+00', 12.50, '{a,b}', '{"x": 1, "y": {"z": [1, 2]}}', 'placed', 1.1, '\x0102'),
		(2, NULL, '2024-03-02 08:30:00.5+02', 7, '{}', NULL, 'delivered', NULL, NULL),
		(3, 11, '2024-03-03 00:00:00+00', NULL, NULL, '[]', 'placed', NULL, NULL)`)
	orders.Exec(`INSERT INTO order_lines VALUES (1, 1, 'apple', 2), (2, 1, 'pear', 1), (3, NULL, 'orphan', 5), (4, 3, 'fig', 3)`)
	people.Exec(`CREATE TABLE customers (id int PRIMARY KEY, name text, email text)`)
	people.Exec(`CREATE TABLE addresses (id int PRIMARY KEY, customer_id int, city text)`)
	people.Exec(`INSERT INTO customers VALUES (10, 'Ann', 'ann@example.com'), (11, 'Bob', NULL)`)
	people.Exec(`INSERT INTO addresses VALUES (101, 10, 'Bergen'), (100, 10, 'Oslo')`)

	// Slot names are server-wide: the orders slot is named after its own
	// database so that tests running beside this one never share it.
	yaml := fmt.Sprintf("sources:\n  orders: { dsn: %q, slot: %q }\n  people: { dsn: %q }\nsink:\n  urls: [%q]\n  index_prefix: %q\n%s",
		orders.DSN(), orders.Name, people.DSN(), search.URL, search.Prefix, fixtureViews)
	path := filepath.Join(t.TempDir(), "projector.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load configuration: %v", err)
	}
	f := &fixture{cfg: cfg, client: connectSink(t, search.URL), search: search, index: search.Index("orders"), orders: orders}
	f.write(t, fixtureDocs)
	return f
}

func connectSink(t testing.TB, url string) *sink.Client {
	t.Helper()
	client, err := sink.Connect(context.Background(), sink.Options{URLs: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// write indexes documents by _id and makes them visible.
func (f *fixture) write(t testing.TB, docs map[string]string) {
	t.Helper()
	var body bytes.Buffer
	for id, doc := range docs {
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(doc)); err != nil {
			t.Fatalf("document %s: %v", id, err)
		}
		fmt.Fprintf(&body, "{\"index\":{\"_index\":%q,\"_id\":%q}}\n%s\n", f.index, id, compact.Bytes())
	}
	f.bulk(t, &body)
}

func (f *fixture) remove(t testing.TB, id string) {
	t.Helper()
	f.bulk(t, strings.NewReader(fmt.Sprintf("{\"delete\":{\"_index\":%q,\"_id\":%q}}\n", f.index, id)))
}

func (f *fixture) bulk(t testing.TB, body io.Reader) {
	t.Helper()
	res, err := f.client.API.Bulk(body, f.client.API.Bulk.WithRefresh("true"))
	if err != nil {
		t.Fatalf("bulk: %v", err)
	}
	defer res.Body.Close()
	if out := res.String(); res.IsError() || strings.Contains(out, `"errors":true`) {
		t.Fatalf("bulk failed: %s", out)
	}
}

func (f *fixture) run(t *testing.T, opts Options, log *slog.Logger) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, f.cfg, f.client, opts, log)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(rep.Views) != 1 || rep.Views[0].View != "orders" {
		t.Fatalf("report has views %+v, want only orders", rep.Views)
	}
	var out bytes.Buffer
	if err := rep.Write(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())
	return rep
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestCleanIndexHasNoDrift(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t, Options{Settle: -1}, quiet())
	if !rep.Clean() {
		t.Fatalf("report is not clean: %+v", rep.Views[0])
	}
	if got := rep.Views[0].Checked; got != 3 {
		t.Errorf("checked %d documents, want 3", got)
	}
}

func TestDrift(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name   string
		change func(t *testing.T)
		want   ViewReport
		diff   Diff
	}{{
		name:   "missing",
		change: func(t *testing.T) { f.remove(t, "2") },
		want:   ViewReport{Missing: 1},
		diff:   Diff{ID: "2", Kind: KindMissing},
	}, {
		name: "stale nested field",
		change: func(t *testing.T) {
			f.write(t, map[string]string{"1": strings.Replace(fixtureDocs["1"], `"Oslo"`, `"Bergen"`, 1)})
		},
		want: ViewReport{Stale: 1},
		diff: Diff{ID: "1", Kind: KindStale, Fields: []FieldDiff{{Path: "customer.address.city", Want: `"Oslo"`, Got: `"Bergen"`}}},
	}, {
		name: "stale has_many element",
		change: func(t *testing.T) {
			f.write(t, map[string]string{"1": strings.Replace(fixtureDocs["1"], `"qty":2`, `"qty":3`, 1)})
		},
		want: ViewReport{Stale: 1},
		diff: Diff{ID: "1", Kind: KindStale, Fields: []FieldDiff{{Path: "lines[1].qty", Want: "2", Got: "3"}}},
	}, {
		// The document holds apple first; sorted, it would come second.
		name: "stale has_many element named by its position in the document",
		change: func(t *testing.T) {
			f.write(t, map[string]string{"1": strings.Replace(fixtureDocs["1"],
				`"lines":[{"sku":"pear","qty":1},{"qty":2,"sku":"apple"}]`,
				`"lines":[{"qty":3,"sku":"apple"},{"sku":"pear","qty":1}]`, 1)})
		},
		want: ViewReport{Stale: 1},
		diff: Diff{ID: "1", Kind: KindStale, Fields: []FieldDiff{{Path: "lines[0].qty", Want: "2", Got: "3"}}},
	}, {
		name: "stale instant",
		change: func(t *testing.T) {
			f.write(t, map[string]string{"2": strings.Replace(fixtureDocs["2"], "06:30:00.5Z", "08:30:00.5Z", 1)})
		},
		want: ViewReport{Stale: 1},
		diff: Diff{ID: "2", Kind: KindStale, Fields: []FieldDiff{{Path: "placed_at", Want: `"2024-03-02T06:30:00.5Z"`, Got: `"2024-03-02T08:30:00.5Z"`}}},
	}, {
		name: "orphan line joined in",
		change: func(t *testing.T) {
			f.write(t, map[string]string{"2": strings.Replace(fixtureDocs["2"], `"lines":[]`, `"lines":[{"sku":"orphan","qty":5}]`, 1)})
		},
		want: ViewReport{Stale: 1},
		diff: Diff{ID: "2", Kind: KindStale, Fields: []FieldDiff{{Path: "lines", Want: `[]`, Got: `[{"qty":5,"sku":"orphan"}]`}}},
	}, {
		name:   "extra",
		change: func(t *testing.T) { f.write(t, map[string]string{"99": `{"id":99}`}) },
		want:   ViewReport{Extra: 1},
		diff:   Diff{ID: "99", Kind: KindExtra},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.change(t)
			t.Cleanup(func() {
				f.remove(t, "99")
				f.write(t, fixtureDocs)
			})
			rep := f.run(t, Options{Settle: -1}, quiet())
			got := rep.Views[0]
			if got.Missing != tc.want.Missing || got.Stale != tc.want.Stale || got.Extra != tc.want.Extra || got.Checked != 3 {
				t.Fatalf("counts: got %+v, want %+v and checked 3", got, tc.want)
			}
			if rep.Clean() {
				t.Fatal("a drifted report says it is clean")
			}
			if len(got.Diffs) != 1 || !equalDiff(got.Diffs[0], tc.diff) {
				t.Fatalf("diffs: got %+v, want [%+v]", got.Diffs, tc.diff)
			}
		})
	}
}

func equalDiff(a, b Diff) bool {
	if a.ID != b.ID || a.Kind != b.Kind || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i] != b.Fields[i] {
			return false
		}
	}
	return true
}
