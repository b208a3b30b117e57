package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	examplePath  = "testdata/views-example.yaml"
	deliveriesDS = "postgres://postgres@127.0.0.1:5434/deliveries"
)

// exampleEnv is the environment the example needs.
func exampleEnv(k string) (string, bool) {
	if k == "DELIVERIES_DSN" {
		return deliveriesDS, true
	}
	return "", false
}

// loadEdited loads the example changed by edit, as if from a file in a
// temporary directory, with env as the environment. It returns that file
// name for the expected messages.
func loadEdited(t *testing.T, edit func(string) string, env func(string) (string, bool)) (*Config, string, error) {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "projector.yaml")
	cfg, err := newLoader(path, env, os.ReadFile).parse([]byte(edit(string(data))))
	return cfg, path, err
}

// replace returns an edit that changes the only occurrence of old.
func replace(t *testing.T, old, new string) func(string) string {
	return func(s string) string {
		if n := strings.Count(s, old); n != 1 {
			t.Fatalf("%q occurs %d times in the example, want once", old, n)
		}
		return strings.Replace(s, old, new, 1)
	}
}

func TestLoadExample(t *testing.T) {
	t.Setenv("DELIVERIES_DSN", deliveriesDS)
	cfg, err := Load(examplePath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantNames := []string{"orders", "consumers", "restaurants", "deliveries"}
	if diff := cmp.Diff(wantNames, cfg.SourceNames); diff != "" {
		t.Errorf("SourceNames (-want +got):\n%s", diff)
	}
	wantDeliveries := Source{Name: "deliveries", DSN: deliveriesDS, Slot: "projector_deliveries", Publication: "projector_deliveries",
		PublicationMode: PublicationManaged, Snapshot: SourceSnapshot{Mode: SnapshotAuto, ChunkRows: DefaultChunkRows}}
	if got := cfg.Sources["deliveries"]; !reflect.DeepEqual(got, wantDeliveries) {
		t.Errorf("Sources[deliveries] = %#v, want %#v", got, wantDeliveries)
	}
	if cfg.HTTP.Listen != "127.0.0.1:9464" || cfg.State.Dir != "./var/state" || cfg.Sink.URLs[0] != "http://127.0.0.1:9200" {
		t.Errorf("http, state or sink not as written: %v", cfg)
	}
	if diff := cmp.Diff(Default().Sink.BulkBytes, cfg.Sink.BulkBytes); diff != "" {
		t.Errorf("default bulk_bytes not applied: %s", diff)
	}
	if diff := cmp.Diff(exampleViews(), cfg.Views, cmpopts.IgnoreTypes(Pos{})); diff != "" {
		t.Errorf("Views (-want +got):\n%s", diff)
	}
}

// exampleViews is the structure the example file describes.
func exampleViews() []View {
	list := func(cols ...string) []Field {
		out := make([]Field, len(cols))
		for i, c := range cols {
			out[i] = Field{Column: c, Name: c}
		}
		return out
	}
	table := func(source, name string) TableRef { return TableRef{Source: source, Schema: "public", Name: name} }
	on := func(parent, related string) []JoinPair { return []JoinPair{{Parent: parent, Related: related}} }
	return []View{{
		Name:     "order_history",
		Root:     table("orders", "orders"),
		Fields:   list("id", "consumer_id", "status", "total_cents", "created_at"),
		Numeric:  NumericString,
		Settings: DefaultIndexSettings(),
		Relations: []Relation{
			{
				Name: "consumer", Type: BelongsTo, Table: table("consumers", "consumers"), On: on("consumer_id", "id"),
				Fields: []Field{{Column: "name", Name: "name"}, {Column: "email", Name: "contact_email"}},
			},
			{Name: "restaurant", Type: BelongsTo, Table: table("restaurants", "restaurants"), On: on("restaurant_id", "id"), Fields: list("name")},
			{
				Name: "line_items", Type: HasMany, Table: table("orders", "order_line_items"), On: on("id", "order_id"),
				Fields: list("quantity", "price_cents"),
				Relations: []Relation{
					{Name: "menu_item", Type: BelongsTo, Table: table("restaurants", "menu_items"), On: on("menu_item_id", "id"), Fields: list("name")},
				},
			},
			{Name: "delivery", Type: HasOne, Table: table("deliveries", "deliveries"), On: on("id", "order_id"), Fields: list("status", "courier_name", "delivered_at")},
		},
	}}
}

func TestLoadKeepsPositions(t *testing.T) {
	cfg, file, err := loadEdited(t, func(s string) string { return s }, exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	view := cfg.Views[0]
	consumer := view.Relations[0]
	menuItem := view.Relations[2].Relations[0]
	got := map[string]Pos{
		"view":              view.Pos,
		"view field status": view.Fields[2].Pos,
		"consumer":          consumer.Pos,
		"consumer on":       consumer.On[0].Pos,
		"email field":       consumer.Fields[1].Pos,
		"menu_item":         menuItem.Pos,
	}
	want := map[string]Pos{
		"view":              {file, 14, 5},
		"view field status": {file, 16, 31},
		"consumer":          {file, 18, 9},
		"consumer on":       {file, 22, 15},
		"email field":       {file, 23, 31},
		"menu_item":         {file, 37, 13},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
	err = consumer.On[0].Pos.Errorf("column %q does not exist in %s", "consumer_id", view.Root)
	if want := file + `:22:15: column "consumer_id" does not exist in orders:public.orders`; err.Error() != want {
		t.Errorf("Pos.Errorf = %q, want %q", err, want)
	}
}

func TestTablesBySource(t *testing.T) {
	cfg, _, err := loadEdited(t, func(s string) string { return s }, exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	table := func(source, name string) TableRef { return TableRef{Source: source, Schema: "public", Name: name} }
	want := map[string][]TableRef{
		"orders":      {table("orders", "orders"), table("orders", "order_line_items")},
		"consumers":   {table("consumers", "consumers")},
		"restaurants": {table("restaurants", "restaurants"), table("restaurants", "menu_items")},
		"deliveries":  {table("deliveries", "deliveries")},
	}
	if diff := cmp.Diff(want, cfg.TablesBySource()); diff != "" {
		t.Errorf("TablesBySource (-want +got):\n%s", diff)
	}
}

func TestJoins(t *testing.T) {
	cfg, _, err := loadEdited(t, func(s string) string { return s }, exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range cfg.Views[0].Joins() {
		r := j.Relation
		got = append(got, strings.Join(j.Path, ".")+": "+j.Parent.String()+"."+r.On[0].Parent+" = "+r.Table.String()+"."+r.On[0].Related)
	}
	want := []string{
		"consumer: orders:public.orders.consumer_id = consumers:public.consumers.id",
		"restaurant: orders:public.orders.restaurant_id = restaurants:public.restaurants.id",
		"line_items: orders:public.orders.id = orders:public.order_line_items.order_id",
		"line_items.menu_item: orders:public.order_line_items.menu_item_id = restaurants:public.menu_items.id",
		"delivery: orders:public.orders.id = deliveries:public.deliveries.order_id",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Joins (-want +got):\n%s", diff)
	}
}

func TestLoadForms(t *testing.T) {
	t.Run("schema.table and composite on", func(t *testing.T) {
		edit := replace(t, "table: deliveries\n        on: { id: order_id }", "table: logistics.deliveries\n        on: { id: order_id, restaurant_id: restaurant_id }")
		cfg, _, err := loadEdited(t, edit, exampleEnv)
		if err != nil {
			t.Fatal(err)
		}
		delivery := cfg.Views[0].Relations[3]
		want := TableRef{Source: "deliveries", Schema: "logistics", Name: "deliveries"}
		wantOn := []JoinPair{{Parent: "id", Related: "order_id"}, {Parent: "restaurant_id", Related: "restaurant_id"}}
		if delivery.Table != want || !cmp.Equal(wantOn, delivery.On, cmpopts.IgnoreTypes(Pos{})) {
			t.Errorf("table %v on %v, want %v on %v", delivery.Table, delivery.On, want, wantOn)
		}
	})
	t.Run("omitted fields take every column", func(t *testing.T) {
		cfg, _, err := loadEdited(t, replace(t, "        fields: [status, courier_name, delivered_at]\n", ""), exampleEnv)
		if err != nil {
			t.Fatal(err)
		}
		if d := cfg.Views[0].Relations[3]; d.Fields != nil || !d.AllColumns {
			t.Errorf("fields %v, all columns %v; want nil, true", d.Fields, d.AllColumns)
		}
		if v := cfg.Views[0]; v.AllColumns {
			t.Error("the view lists its fields but AllColumns is set")
		}
	})
	t.Run("environment defaults and unquoted numbers", func(t *testing.T) {
		dir := replace(t, "  dir: ./var/state\n", "  dir: ${STATE_DIR:-/srv/state}\n")
		bulk := replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://127.0.0.1:9200"]`+"\n  bulk_actions: ${BULK}\n  bulk_bytes: ${BULK_BYTES}")
		edit := func(s string) string { return bulk(dir(s)) }
		env := func(k string) (string, bool) {
			v, ok := map[string]string{"BULK": "250", "BULK_BYTES": "1MiB", "DELIVERIES_DSN": deliveriesDS}[k]
			return v, ok
		}
		cfg, _, err := loadEdited(t, edit, env)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Sink.BulkActions != 250 || cfg.Sink.BulkBytes != 1<<20 || cfg.State.Dir != "/srv/state" {
			t.Errorf("bulk_actions %d, bulk_bytes %d, state.dir %q; want 250, 1MiB, /srv/state", cfg.Sink.BulkActions, cfg.Sink.BulkBytes, cfg.State.Dir)
		}
	})
}

func TestLoadSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	sinkPW := write("sink-password", "hunter2\n")
	apiKey := write("api-key", "a2V5\r\n")
	dbPW := write("db-password", "p@ss'word\n")
	edit := func(s string) string {
		s = replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://127.0.0.1:9200"]`+"\n  username: elastic\n  password_file: "+sinkPW)(s)
		return replace(t, `{ dsn: "postgres://postgres@127.0.0.1:5433/orders" }`, `{ dsn: "host=127.0.0.1 port=5433 dbname=orders", password_file: "`+dbPW+`" }`)(s)
	}
	cfg, _, err := loadEdited(t, edit, exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sink.Password != "hunter2" {
		t.Errorf("sink password = %q, want the file's content without its line break", cfg.Sink.Password)
	}
	if want := `host=127.0.0.1 port=5433 dbname=orders password='p@ss\'word'`; cfg.Sources["orders"].DSN != want {
		t.Errorf("orders DSN = %q, want %q", cfg.Sources["orders"].DSN, want)
	}

	edit2 := replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://127.0.0.1:9200"]`+"\n  api_key_file: "+apiKey)
	cfg, _, err = loadEdited(t, edit2, exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sink.APIKey != "a2V5" {
		t.Errorf("api key = %q, want a2V5", cfg.Sink.APIKey)
	}
}

// capture.failover_slot is off unless the file turns it on.
func TestLoadFailoverSlot(t *testing.T) {
	for _, tc := range []struct {
		block string
		want  bool
	}{
		{"", false},
		{"capture:\n  failover_slot: true\n", true},
		{"capture:\n  failover_slot: false\n", false},
	} {
		cfg, _, err := loadEdited(t, replace(t, "views:\n", tc.block+"views:\n"), exampleEnv)
		if err != nil {
			t.Fatalf("%q: %v", tc.block, err)
		}
		if cfg.Capture.FailoverSlot != tc.want {
			t.Errorf("%q: failover_slot = %v, want %v", tc.block, cfg.Capture.FailoverSlot, tc.want)
		}
	}
}

// TestLoadPprofToken: the profiling token is read from its file and never
// printed with the configuration.
func TestLoadPprofToken(t *testing.T) {
	token := filepath.Join(t.TempDir(), "pprof.token")
	if err := os.WriteFile(token, []byte("tok3n-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	edit := replace(t, "  listen: 127.0.0.1:9464", "  listen: 127.0.0.1:9464\n  pprof: true\n  pprof_token_file: "+token)
	cfg, _, err := loadEdited(t, edit, exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.PprofToken != "tok3n-value" {
		t.Errorf("pprof token = %q, want the file's content without its line break", cfg.HTTP.PprofToken)
	}
	for _, printed := range []string{cfg.String(), fmt.Sprintf("%#v", *cfg), fmt.Sprintf("%+v", cfg.HTTP)} {
		if strings.Contains(printed, "tok3n") {
			t.Errorf("the configuration prints the pprof token: %s", printed)
		}
	}
}

// TestDefaultListensOnLoopback: without http.listen, /metrics and pprof
// are not reachable from other hosts.
func TestDefaultListensOnLoopback(t *testing.T) {
	cfg, _, err := loadEdited(t, replace(t, "http:\n  listen: 127.0.0.1:9464        # /metrics, /healthz, /readyz\n", ""), exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:9464" {
		t.Errorf("default http.listen = %q, want 127.0.0.1:9464", cfg.HTTP.Listen)
	}
}
