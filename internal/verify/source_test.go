package verify

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/testbed"
)

func TestConnectErrorNamesSourceWithoutPassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	cfg := config.Default()
	cfg.Sources["billing"] = config.Source{Name: "billing", DSN: "postgres://app:hunter2secret@" + addr + "/billing"}
	cfg.Views = []config.View{{Name: "invoices", Root: config.TableRef{Source: "billing", Schema: "public", Name: "invoices"}, AllColumns: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = Run(ctx, &cfg, nil, Options{}, quiet())
	if err == nil {
		t.Fatal("verification against a closed port succeeded")
	}
	msg := err.Error()
	t.Log(msg)
	if strings.Contains(msg, "hunter2secret") {
		t.Fatalf("the error shows the password: %s", msg)
	}
	if !strings.Contains(msg, `"billing"`) || !strings.Contains(msg, addr) {
		t.Errorf("the error does not name the source and its address: %s", msg)
	}
}

func TestUnknownViewIsAnError(t *testing.T) {
	cfg := config.Default()
	_, err := Run(context.Background(), &cfg, nil, Options{Views: []string{"nope"}}, quiet())
	if err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("got %v, want an error naming the view", err)
	}
}

// A composite key becomes "a|b" ids; numeric=number writes numbers; a view
// without fields copies every column.
func TestCompositeKeyAllColumnsNumericNumber(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE prices (shop text, sku int, amount numeric(8,3), seen date, PRIMARY KEY (shop, sku))`)
	db.Exec(`INSERT INTO prices VALUES ('north', 1, 1.500, '2024-05-06'), ('south', 2, NULL, NULL)`)
	cfg := config.Default()
	cfg.Sources["shop"] = config.Source{Name: "shop", DSN: db.DSN()}
	cfg.SourceNames = []string{"shop"}
	cfg.Sink.URLs = []string{search.URL}
	cfg.Sink.IndexPrefix = search.Prefix
	cfg.Views = []config.View{{Name: "prices", Root: config.TableRef{Source: "shop", Schema: "public", Name: "prices"},
		AllColumns: true, Numeric: config.NumericNumber}}
	f := &fixture{cfg: &cfg, search: search, index: search.Index("prices")}
	f.client = connectSink(t, search.URL)
	f.write(t, map[string]string{
		"north|1": `{"amount":1.5,"seen":"2024-05-06T00:00:00Z","shop":"north","sku":1}`,
		"south|2": `{"amount":null,"seen":null,"shop":"south","sku":2}`,
	})
	checkSubset(t, &cfg, []string{"north|1", "south|2", "south|x", "north"}, []string{"north|1", "south|2"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, &cfg, f.client, Options{Settle: -1}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() || rep.Views[0].Checked != 2 {
		t.Fatalf("got %+v, want 2 documents checked and no drift", rep.Views)
	}
	f.write(t, map[string]string{"south|2": `{"amount":null,"seen":null,"shop":"south"}`})
	if rep, err = Run(ctx, &cfg, f.client, Options{Settle: -1}, quiet()); err != nil {
		t.Fatal(err)
	}
	d := rep.Views[0].Diffs
	if rep.Views[0].Stale != 1 || len(d) != 1 || len(d[0].Fields) != 1 || d[0].Fields[0] != (FieldDiff{Path: "sku", Want: "2", Got: absent}) {
		t.Fatalf("got %+v, want sku reported absent in south|2", rep.Views[0])
	}
}

// Several rows match a has_one: the document holds the first in primary-key
// order, which for integer keys is numeric order (9 before 10).
func TestHasOneTakesFirstRowByPrimaryKey(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Secondary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE people (id int PRIMARY KEY)`)
	db.Exec(`CREATE TABLE addresses (id int PRIMARY KEY, person_id int, city text)`)
	db.Exec(`INSERT INTO people VALUES (1)`)
	db.Exec(`INSERT INTO addresses VALUES (10, 1, 'Ten'), (9, 1, 'Nine'), (8, NULL, 'Nobody')`)
	cfg := config.Default()
	cfg.Sources["crm"] = config.Source{Name: "crm", DSN: db.DSN()}
	cfg.Sink.IndexPrefix = search.Prefix
	cfg.Views = []config.View{{Name: "people", Root: config.TableRef{Source: "crm", Schema: "public", Name: "people"},
		Fields: []config.Field{{Column: "id", Name: "id"}},
		Relations: []config.Relation{{Name: "address", Type: config.HasOne,
			Table: config.TableRef{Source: "crm", Schema: "public", Name: "addresses"},
			On:    []config.JoinPair{{Parent: "id", Related: "person_id"}}, Fields: []config.Field{{Column: "city", Name: "city"}}}}}}
	f := &fixture{cfg: &cfg, search: search, index: search.Index("people"), client: connectSink(t, search.URL)}
	f.write(t, map[string]string{"1": `{"id":1,"address":{"city":"Ten"}}`})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, &cfg, f.client, Options{Settle: -1}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Views[0].Diffs
	if len(d) != 1 || len(d[0].Fields) != 1 || d[0].Fields[0] != (FieldDiff{Path: "address.city", Want: `"Nine"`, Got: `"Ten"`}) {
		t.Fatalf("got %+v, want address.city Nine instead of Ten", rep.Views[0])
	}
}

func TestMissingAliasCountsEveryDocumentMissing(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE items (id int PRIMARY KEY, name text)`)
	db.Exec(`INSERT INTO items VALUES (1, 'a'), (2, 'b')`)
	cfg := config.Default()
	cfg.Sources["shop"] = config.Source{Name: "shop", DSN: db.DSN()}
	cfg.Sink.IndexPrefix = search.Prefix
	cfg.Views = []config.View{{Name: "items", Root: config.TableRef{Source: "shop", Schema: "public", Name: "items"}, AllColumns: true}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, &cfg, connectSink(t, search.URL), Options{Settle: -1}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if v := rep.Views[0]; v.Checked != 2 || v.Missing != 2 || rep.Clean() {
		t.Fatalf("got %+v, want both documents missing", v)
	}
}

// Reading by id converts join values to the related column's type; a value
// out of that type's range falls back to a full read instead of failing.
func TestRecheckFallsBackToFullRead(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE parents (id int PRIMARY KEY, ref bigint)`)
	db.Exec(`CREATE TABLE kids (id smallint PRIMARY KEY, name text)`)
	db.Exec(`INSERT INTO parents VALUES (1, 100000), (2, 7)`)
	db.Exec(`INSERT INTO kids VALUES (7, 'seven')`)
	cfg := config.Default()
	cfg.Sources["fam"] = config.Source{Name: "fam", DSN: db.DSN()}
	cfg.Sink.IndexPrefix = search.Prefix
	cfg.Views = []config.View{{Name: "parents", Root: config.TableRef{Source: "fam", Schema: "public", Name: "parents"},
		Fields: []config.Field{{Column: "id", Name: "id"}},
		Relations: []config.Relation{{Name: "kid", Type: config.BelongsTo,
			Table: config.TableRef{Source: "fam", Schema: "public", Name: "kids"},
			On:    []config.JoinPair{{Parent: "ref", Related: "id"}}, Fields: []config.Field{{Column: "name", Name: "name"}}}}}}
	f := &fixture{cfg: &cfg, search: search, index: search.Index("parents"), client: connectSink(t, search.URL)}
	f.write(t, map[string]string{"1": `{"id":1,"kid":{"name":"ghost"}}`, "2": `{"id":2,"kid":{"name":"seven"}}`})
	h := &onRecheck{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, &cfg, f.client, Options{Settle: time.Second}, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	if h.calls.Load() == 0 {
		t.Fatal("the stale document was never re-checked")
	}
	d := rep.Views[0].Diffs
	if rep.Views[0].Stale != 1 || len(d) != 1 || d[0].ID != "1" || len(d[0].Fields) != 1 ||
		d[0].Fields[0] != (FieldDiff{Path: "kid", Want: "null", Got: `{"name":"ghost"}`}) {
		t.Fatalf("got %+v, want document 1 stale: kid null, not ghost", rep.Views[0])
	}
}
