package daemon

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform/state"
)

// TestSpreadCopies checks that a view built from copies of its tables
// takes no other view along, and that it is built from a fresh snapshot
// instead when another view's rebuild resets one of its sources.
func TestSpreadCopies(t *testing.T) {
	copies := map[string][]capture.Table{"menu": {{Schema: "public", Name: "sides"}}}
	for _, tc := range []struct {
		name       string
		plans      []*indexPlan
		rebuild    []bool
		withCopies []bool
		reset      []string
	}{
		{
			name: "a changed view is rebuilt alone",
			plans: []*indexPlan{
				{vi: &viewIndex{sources: []string{"menu"}, copies: copies}, version: sink.VersionPlan{Current: 1}, rebuild: true},
				{vi: &viewIndex{sources: []string{"menu"}}, version: sink.VersionPlan{Current: 1}},
			},
			rebuild: []bool{true, false}, withCopies: []bool{true, false},
		},
		{
			name: "an added view is filled alone",
			plans: []*indexPlan{
				{vi: &viewIndex{sources: []string{"menu"}}, version: sink.VersionPlan{Current: 3}},
				{vi: &viewIndex{sources: []string{"menu"}, copies: copies}, version: sink.VersionPlan{Current: 0}},
			},
			rebuild: []bool{false, false}, withCopies: []bool{false, true},
		},
		{
			name: "a source reset for another view wins",
			plans: []*indexPlan{
				{vi: &viewIndex{sources: []string{"menu"}, copies: copies}, version: sink.VersionPlan{Current: 1}, rebuild: true},
				{vi: &viewIndex{sources: []string{"shop", "menu"}}, version: sink.VersionPlan{Current: 1}, rebuild: true},
				{vi: &viewIndex{sources: []string{"menu"}}, version: sink.VersionPlan{Current: 1}},
			},
			rebuild: []bool{true, true, true}, withCopies: []bool{false, false, false}, reset: []string{"menu", "shop"},
		},
		{
			// Once its copies are dropped, the view's own sources are
			// taken from fresh snapshots, and their views rebuilt.
			name: "dropped copies spread",
			plans: []*indexPlan{
				{vi: &viewIndex{sources: []string{"people"}}, version: sink.VersionPlan{Current: 1}},
				{vi: &viewIndex{sources: []string{"menu", "people"}, copies: copies}, version: sink.VersionPlan{Current: 1}, rebuild: true},
				{vi: &viewIndex{sources: []string{"menu"}}, version: sink.VersionPlan{Current: 1}, rebuild: true},
			},
			rebuild: []bool{true, true, true}, withCopies: []bool{false, false, false}, reset: []string{"menu", "people"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reset := spreadCopies(tc.plans, slog.New(slog.DiscardHandler))
			var rebuild, withCopies []bool
			for _, p := range tc.plans {
				rebuild = append(rebuild, p.rebuild)
				withCopies = append(withCopies, p.vi.copies != nil)
			}
			if diff := cmp.Diff(tc.rebuild, rebuild); diff != "" {
				t.Errorf("rebuild (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.withCopies, withCopies); diff != "" {
				t.Errorf("built from copies (-want +got):\n%s", diff)
			}
			var sources []string
			for _, s := range []string{"menu", "people", "shop"} {
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

// TestViewCopies lists a view's tables by source with the root last, so
// that its documents find the rows they join in the state.
func TestViewCopies(t *testing.T) {
	cv := &config.View{Name: "orders", Root: config.TableRef{Source: "shop", Schema: "public", Name: "orders"},
		Relations: []config.Relation{
			{Name: "lines", Table: config.TableRef{Source: "shop", Schema: "public", Name: "lines"}},
			{Name: "dish", Table: config.TableRef{Source: "menu", Schema: "public", Name: "dishes"}},
		}}
	got, ok := viewCopies(cv)
	want := map[string][]capture.Table{
		"shop": {{Schema: "public", Name: "lines"}, {Schema: "public", Name: "orders"}},
		"menu": {{Schema: "public", Name: "dishes"}},
	}
	if !ok {
		t.Fatal("viewCopies refused a view of tables")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("copies (-want +got):\n%s", diff)
	}
}

// TestQueueCopies checks the copies queued in the state: new tables are
// appended for capture's chunker, a table already copied is copied again,
// a copy under way goes on from its last chunk, and a view's rebuild is
// complete only once every one of its copies is done.
func TestQueueCopies(t *testing.T) {
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	orders, lines, sides := capture.Table{Schema: "public", Name: "orders"}, capture.Table{Schema: "public", Name: "lines"},
		capture.Table{Schema: "public", Name: "sides"}
	under := capture.TableProgress{Table: lines, LastKey: []string{"40"}, Rows: 40, Chunks: 2}
	if err := store.SetChunkProgress("shop", []capture.TableProgress{
		{Table: orders, Rows: 10, Chunks: 1, Done: true}, under,
	}); err != nil {
		t.Fatal(err)
	}
	plans := []*indexPlan{
		{vi: &viewIndex{view: "orders", sources: []string{"shop"}, copies: map[string][]capture.Table{"shop": {lines, orders}}}},
		{vi: &viewIndex{view: "sides", sources: []string{"menu"}, copies: map[string][]capture.Table{"menu": {sides}}}},
		{vi: &viewIndex{view: "other", sources: []string{"shop"}}},
	}
	if err := queueCopies(store, plans, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	got, err := store.ChunkProgress("shop")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]capture.TableProgress{under, {Table: orders}}, got); diff != "" {
		t.Errorf("shop's queue (-want +got):\n%s", diff)
	}
	got, err = store.ChunkProgress("menu")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]capture.TableProgress{{Table: sides}}, got); diff != "" {
		t.Errorf("menu's queue (-want +got):\n%s", diff)
	}

	vi := plans[0].vi
	isCopied := func(source string, tables []capture.Table) (bool, error) { return copied(store, source, tables) }
	step := func(want bool) {
		t.Helper()
		done, err := rebuilt(vi, nil, nil, nil, isCopied)
		if err != nil || done != want {
			t.Fatalf("rebuilt = %v, %v; want %v", done, err, want)
		}
	}
	step(false)
	if err := store.SetChunkProgress("shop", []capture.TableProgress{
		{Table: lines, Rows: 90, Chunks: 3, Done: true}, {Table: orders, Rows: 10, Chunks: 1},
	}); err != nil {
		t.Fatal(err)
	}
	step(false) // orders is still copied
	if err := store.SetChunkProgress("shop", []capture.TableProgress{
		{Table: lines, Rows: 90, Chunks: 3, Done: true}, {Table: orders, Rows: 10, Chunks: 1, Done: true},
	}); err != nil {
		t.Fatal(err)
	}
	step(true)
	if err := store.SetChunkProgress("shop", nil); err != nil {
		t.Fatal(err)
	}
	step(false) // a queue replaced by a fresh snapshot holds no finished copy
}

// TestCopyRefusal checks which sources can build a view from chunked
// copies of its tables while they stream, and that the others say why.
func TestCopyRefusal(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	cfg := &config.Config{Sources: map[string]config.Source{
		"live":    {Name: "live", DSN: db.DSN()},
		"events":  {Name: "events", DSN: db.DSN(), Events: map[string]config.EventStream{"orders": {}}},
		"offline": {Name: "offline", DSN: "postgres://u@127.0.0.1:1/shop?connect_timeout=2"},
	}}
	for _, tc := range []struct {
		source, want string
	}{
		{"live", ""},
		{"events", "the source publishes events"},
		{"offline", "its server version could not be read"},
		{"missing", "the source is not configured"},
	} {
		got := copyRefusal(context.Background(), cfg, tc.source)
		if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
			t.Errorf("copyRefusal(%s) = %q, want %q…", tc.source, got, tc.want)
		}
	}
}

// TestCopyOrder: every rebuild copies or folds a view's tables with the
// root last, whatever its relations and sources.
func TestCopyOrder(t *testing.T) {
	table, view := publicTable, belongsToView
	for _, tc := range []struct {
		name string
		view *config.View
		want []config.TableRef
	}{
		{"root alone", view(table("shop", "orders")), []config.TableRef{table("shop", "orders")}},
		{"joins across sources", view(table("shop", "orders"), table("menu", "dishes"), table("shop", "lines")),
			[]config.TableRef{table("menu", "dishes"), table("shop", "lines"), table("shop", "orders")}},
		{"a table joined twice", view(table("shop", "orders"), table("menu", "dishes"), table("menu", "dishes")),
			[]config.TableRef{table("menu", "dishes"), table("shop", "orders")}},
		{"root joined to itself", view(table("hr", "staff"), table("hr", "staff"), table("hr", "teams")),
			[]config.TableRef{table("hr", "teams"), table("hr", "staff")}},
		{"entity root", view(config.EntityRef("orders", "order"), table("crm", "consumers")),
			[]config.TableRef{table("crm", "consumers"), config.EntityRef("orders", "order")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, copyOrder(tc.view)); diff != "" {
				t.Errorf("copyOrder (-want +got):\n%s", diff)
			}
		})
	}
}

// publicTable names a table of the public schema of source.
func publicTable(source, name string) config.TableRef {
	return config.TableRef{Source: source, Schema: "public", Name: name}
}

// belongsToView is a view named v over root, each related table joined
// by a belongs_to relation named after it.
func belongsToView(root config.TableRef, related ...config.TableRef) *config.View {
	v := &config.View{Name: "v", Root: root}
	for _, r := range related {
		v.Relations = append(v.Relations, config.Relation{Name: r.Name, Type: config.BelongsTo, Table: r})
	}
	return v
}
