package daemon

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
)

// TestSpreadRebuilds checks that a view rebuilt from fresh snapshots
// takes along every view with an index that shares one of its sources,
// and those views' other sources in turn, in the order views are listed.
func TestSpreadRebuilds(t *testing.T) {
	type view struct {
		current int
		rebuild bool
		sources []string
	}
	for _, tc := range []struct {
		name    string
		views   []view
		rebuild []bool
		reset   []string
	}{
		{
			name:    "nothing to rebuild",
			views:   []view{{1, false, []string{"shop"}}, {1, false, []string{"people"}}},
			rebuild: []bool{false, false},
		},
		{
			name:    "a shared source",
			views:   []view{{1, true, []string{"shop"}}, {1, false, []string{"shop", "people"}}, {1, false, []string{"people"}}},
			rebuild: []bool{true, true, true},
			reset:   []string{"people", "shop"},
		},
		{
			name:    "a view without an index is filled, not rebuilt",
			views:   []view{{1, true, []string{"shop"}}, {0, false, []string{"shop"}}},
			rebuild: []bool{true, false},
			reset:   []string{"shop"},
		},
		{
			name:    "unrelated sources stay",
			views:   []view{{2, true, []string{"shop"}}, {1, false, []string{"people"}}},
			rebuild: []bool{true, false},
			reset:   []string{"shop"},
		},
		{
			// One pass: a view listed before the one that pulls in its
			// source is not revisited.
			name:    "one pass in view order",
			views:   []view{{1, false, []string{"people"}}, {1, false, []string{"shop", "people"}}, {1, true, []string{"shop"}}},
			rebuild: []bool{false, true, true},
			reset:   []string{"people", "shop"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var plans []*indexPlan
			for _, v := range tc.views {
				plans = append(plans, &indexPlan{vi: &viewIndex{sources: v.sources},
					version: sink.VersionPlan{Current: v.current}, rebuild: v.rebuild})
			}
			reset := spreadRebuilds(plans)
			var got []bool
			for _, p := range plans {
				got = append(got, p.rebuild)
			}
			if diff := cmp.Diff(tc.rebuild, got); diff != "" {
				t.Errorf("rebuild (-want +got):\n%s", diff)
			}
			var sources []string
			for _, s := range []string{"people", "shop"} {
				if reset[s] {
					sources = append(sources, s)
				}
			}
			if diff := cmp.Diff(tc.reset, sources); diff != "" {
				t.Errorf("reset sources (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRebuilt checks when a rebuilt index holds everything: every source
// finished its snapshot and the position applied when it first was seen
// finished is durable. Later writes do not move that mark.
func TestRebuilt(t *testing.T) {
	vi := &viewIndex{view: "orders", sources: []string{"shop", "people"}}
	checkpoints := map[string]capture.Checkpoint{"shop": {SnapshotDone: true, Applied: 100}, "people": {}}
	confirmed := map[string]capture.LSN{"shop": 50, "people": 0}
	checkpoint := func(s string) (capture.Checkpoint, error) { return checkpoints[s], nil }
	durable := func(s string) capture.LSN { return confirmed[s] }
	ends := map[string]capture.LSN{}
	step := func(want bool) {
		t.Helper()
		got, err := rebuilt(vi, durable, checkpoint, ends, nil)
		if err != nil || got != want {
			t.Fatalf("rebuilt = %v, %v; want %v (checkpoints %v, confirmed %v)", got, err, want, checkpoints, confirmed)
		}
	}
	step(false) // shop's snapshot is not durable yet
	confirmed["shop"] = 100
	step(false) // people's snapshot is not done
	checkpoints["people"] = capture.Checkpoint{SnapshotDone: true, Applied: 70}
	checkpoints["shop"] = capture.Checkpoint{SnapshotDone: true, Applied: 900} // written since
	step(false)                                                                // people's 70 is not durable
	confirmed["people"] = 70
	step(true)
	if want := map[string]capture.LSN{"shop": 100, "people": 70}; !cmp.Equal(ends, want) {
		t.Errorf("snapshot ends = %v, want %v", ends, want)
	}

	failing := func(string) (capture.Checkpoint, error) { return capture.Checkpoint{}, errors.New("state closed") }
	if _, err := rebuilt(vi, durable, failing, map[string]capture.LSN{}, nil); err == nil {
		t.Error("rebuilt ignored a checkpoint that cannot be read")
	}
}

// TestViewShape derives the sink's view of a compiled view: fields in
// document order, renamed and nested under relations, with the types the
// columns map to.
func TestViewShape(t *testing.T) {
	cfg := loadConfig(t, `
sources:
  shop: { dsn: "postgres://u@127.0.0.1:1/shop" }
sink: { urls: ["http://127.0.0.1:1"] }
views:
  - name: orders
    root: { source: shop, table: orders }
    fields: { id: id, total: amount, meta: meta }
    json: { meta: flattened }
    relations:
      - name: lines
        type: has_many
        source: shop
        table: lines
        on: { id: order_id }
  - name: priced
    root: { source: shop, table: orders }
    numeric: number
    fields: [id, total]
`)
	col := func(name, base string) capture.Column { return capture.Column{Name: name, Type: base, Base: base} }
	schema := transform.Schema{"shop": {
		{Schema: "public", Name: "orders"}: {Table: capture.Table{Schema: "public", Name: "orders"},
			Columns: []capture.Column{col("id", "int8"), col("total", "numeric"), col("meta", "jsonb")}, Key: []string{"id"}},
		{Schema: "public", Name: "lines"}: {Table: capture.Table{Schema: "public", Name: "lines"},
			Columns: []capture.Column{col("id", "int8"), col("order_id", "int8"), col("sku", "text")}, Key: []string{"id"}},
	}}
	views, err := transform.Compile(cfg.Views, schema)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	keyword := sink.ColumnOptions{Numeric: sink.NumericAsKeyword}
	want := sink.ViewShape{
		View: "orders",
		Fields: []sink.Field{
			{Name: "id", Type: sink.ColumnType("int8", keyword)},
			{Name: "amount", Type: sink.ColumnType("numeric", keyword)},
			{Name: "meta", Type: sink.ColumnType("jsonb", sink.ColumnOptions{Numeric: sink.NumericAsKeyword, JSON: sink.JSONMapping("flattened")})},
			{Name: "lines", Type: sink.RelationType("has_many"), Fields: []sink.Field{
				{Name: "id", Type: sink.ColumnType("int8", keyword)},
				{Name: "order_id", Type: sink.ColumnType("int8", keyword)},
				{Name: "sku", Type: sink.ColumnType("text", keyword)},
			}},
		},
		IDScheme: transform.DocIDScheme,
		KeyField: transform.KeyField,
	}
	if diff := cmp.Diff(want, viewShape(views[0], schema)); diff != "" {
		t.Errorf("viewShape(orders) (-want +got):\n%s", diff)
	}
	priced := viewShape(views[1], schema)
	if !priced.NumericAsNumber || priced.Fields[1].Type != sink.ColumnType("numeric", sink.ColumnOptions{Numeric: sink.NumericAsDouble}) {
		t.Errorf("viewShape(priced) = %+v, want numeric columns as numbers", priced)
	}
	if sink.Fingerprint(priced) == sink.Fingerprint(viewShape(views[0], schema)) {
		t.Error("two views of different shapes share a fingerprint")
	}
}
