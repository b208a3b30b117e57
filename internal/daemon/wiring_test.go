package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/transform"
)

// TestCaptureSource converts a configured source the one way run, check,
// tail and slots share: the tables its views read, in order, its slot and
// publication names, how the publication is owned and the columns read.
func TestCaptureSource(t *testing.T) {
	cfg := loadConfig(t, `
sources:
  shop:   { dsn: "postgres://u@127.0.0.1:1/shop", slot: shop_slot, publication: shop_pub, publication_mode: existing }
  people: { dsn: "postgres://u@127.0.0.1:1/people" }
sink: { urls: ["http://127.0.0.1:1"] }
views:
  - name: orders
    root: { source: shop, table: orders }
    fields: [id, total]
    relations:
      - name: customer
        type: belongs_to
        source: people
        table: customers
        on: { customer_id: id }
      - name: lines
        type: has_many
        source: shop
        table: lines
        on: { id: order_id }
        fields: [sku]
`)
	shop := CaptureSource(cfg, "shop")
	orders, lines := capture.Table{Schema: "public", Name: "orders"}, capture.Table{Schema: "public", Name: "lines"}
	want := capture.Source{Name: "shop", DSN: "postgres://u@127.0.0.1:1/shop", Slot: "shop_slot", Publication: "shop_pub",
		Tables: []capture.Table{orders, lines}, ExistingPublication: true,
		Columns: map[capture.Table][]string{orders: {"id", "total", "customer_id"}, lines: {"sku", "order_id"}}}
	if diff := cmp.Diff(want, shop); diff != "" {
		t.Errorf("CaptureSource(shop) (-want +got):\n%s", diff)
	}
	people := CaptureSource(cfg, "people")
	if people.ExistingPublication || people.SlotName() != "projector_people" || len(people.Tables) != 1 || len(people.Columns) != 0 {
		t.Errorf("CaptureSource(people) = %+v, want a managed publication, the default slot and customers read whole", people)
	}
	var fenced []string
	for _, s := range fenceSources(cfg) {
		fenced = append(fenced, s.Name)
	}
	if fmt.Sprint(fenced) != "[shop people]" {
		t.Errorf("fenceSources = %v, want the sources views use, in configuration order", fenced)
	}
}

// TestRootsLast orders a source's tables for its snapshot: the root
// tables of its views last, the others in their order.
func TestRootsLast(t *testing.T) {
	tbl := func(name string) capture.Table { return capture.Table{Schema: "public", Name: name} }
	views := []*transform.View{
		{Name: "orders", Root: &transform.Node{Source: "shop", Table: tbl("orders")}},
		{Name: "people", Root: &transform.Node{Source: "crm", Table: tbl("lines")}}, // another source's root
	}
	tables := []capture.Table{tbl("orders"), tbl("lines"), tbl("items"), tbl("notes")}
	rootsLast(tables, "shop", views)
	want := []capture.Table{tbl("lines"), tbl("items"), tbl("notes"), tbl("orders")}
	if diff := cmp.Diff(want, tables); diff != "" {
		t.Errorf("rootsLast (-want +got):\n%s", diff)
	}
}

// TestSnapshotProgress adds up the snapshot progress of every table of
// every source for the progress bar.
func TestSnapshotProgress(t *testing.T) {
	var mu sync.Mutex
	var last [2]int64
	report := func(work string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if work != "snapshot" {
			t.Errorf("work %q", work)
		}
		last = [2]int64{done, total}
	}
	sp := &snapshotProgress{tables: map[string][2]int64{}}
	// Without a report the progress is still kept, for /readyz.
	sp.table("billing", nil)(capture.Table{Schema: "public", Name: "invoices"}, 7, 70)
	if c := sp.current["billing"]; c.done != 7 || c.estimate != 70 {
		t.Errorf("progress kept without a report = %+v, want 7 of 70", c)
	}
	sp = &snapshotProgress{tables: map[string][2]int64{}}
	shop, people := sp.table("shop", report), sp.table("people", report)
	orders := capture.Table{Schema: "public", Name: "orders"}
	shop(orders, 10, 100)
	people(orders, 5, 50) // the same table name in another source counts apart
	shop(orders, 40, 100)
	if last != [2]int64{45, 150} {
		t.Errorf("progress = %v, want 45 of 150", last)
	}
}

// TestMeasureServer measures a source's lag through the slot reading
// `projector slots` and `check` share: before the slot exists the source
// has no lag yet; once it does, the lag and retained WAL gauges follow
// the WAL written since.
func TestMeasureServer(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	src := capture.Source{Name: "shop", DSN: db.DSN(), Slot: db.Name + "_slot"}
	reg := prometheus.NewRegistry()
	s := capture.NewStream(src, capture.Options{}, capture.NewMetrics(reg), slog.New(slog.DiscardHandler))
	m := &monitor{streams: []*capture.Stream{s}, metrics: newMetrics(reg, "test"), log: slog.New(slog.DiscardHandler)}
	m.init()
	defer func() {
		for _, c := range m.conns {
			c.Close(context.Background())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if _, _, err := m.measureServer(ctx, s); err != errNoSlot {
		t.Fatalf("measureServer without a slot: %v, want errNoSlot", err)
	}
	db.Exec(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, src.SlotName())
	db.Exec(`CREATE TABLE filler AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 10000) g`)
	current, confirmed, err := m.measureServer(ctx, s)
	if err != nil {
		t.Fatalf("measureServer: %v", err)
	}
	lag := testutil.ToFloat64(m.metrics.lagBytes.WithLabelValues("shop"))
	if current <= confirmed || lag != float64(current-confirmed) || lag < 1<<20 {
		t.Errorf("current %s, confirmed %s, projector_source_lag_bytes %v; want about 1 MB of lag", current, confirmed, lag)
	}
	if retained := testutil.ToFloat64(m.metrics.retainedWAL.WithLabelValues("shop")); retained < lag {
		t.Errorf("projector_slot_retained_wal_bytes = %v, less than the lag %v", retained, lag)
	}
}

// TestCheckShowsTheSlot runs check against a live source and an
// unreachable search engine: the source's checks pass, the slot is
// reported as not created and then with its position, and the sink fails
// with a fix.
func TestCheckShowsTheSlot(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE orders (id bigint PRIMARY KEY, total numeric)`)
	cfg := loadConfig(t, fmt.Sprintf(`
sources:
  shop: { dsn: %q, slot: %s_slot }
sink: { urls: ["http://127.0.0.1:1"] }
views:
  - name: orders
    root: { source: shop, table: orders }
`, db.DSN(), db.Name))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slotLine := func() CheckResult {
		t.Helper()
		var slot *CheckResult
		for _, r := range Check(ctx, cfg) {
			switch {
			case strings.HasPrefix(r.Name, "replication slot "):
				slot = &r
			case r.Scope == "sink":
				if r.Err == nil || !strings.Contains(r.Err.Error(), "sink.urls") {
					t.Errorf("sink check: %v, want a failure naming sink.urls", r.Err)
				}
			case r.Scope == "views" && r.Err != nil:
				t.Errorf("views check failed: %v", r.Err)
			}
		}
		if slot == nil {
			t.Fatal("check reports no replication slot")
		}
		return *slot
	}
	r := slotLine()
	if r.Err != nil || r.Name != "replication slot "+db.Name+"_slot" || !strings.Contains(r.Detail, "not created yet") {
		t.Errorf("before the slot exists: %+v", r)
	}
	db.Exec(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, db.Name+"_slot")
	if r := slotLine(); r.Err != nil || !strings.Contains(r.Detail, "inactive, confirmed ") {
		t.Errorf("with the slot: %+v", r)
	}
}
