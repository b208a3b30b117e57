package daemon

import (
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
	"github.com/projector-dev/projector/transform/state"
)

// TestHeldTables follows what the state holds of a view's tables through
// starts: nothing before the source's snapshot is done; every table the
// snapshot copied once it is; a view added over those tables is built
// from the state alone; a view that needs one more column of a child
// copies that child only; and a start cut short after that copy ended
// does not copy it again (it stays recorded done for the view).
func TestHeldTables(t *testing.T) {
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log := slog.New(slog.DiscardHandler)
	orders, lines := capture.Table{Schema: "public", Name: "orders"}, capture.Table{Schema: "public", Name: "lines"}
	rootID, linesID := state.TableID{Source: "shop", Table: orders}, state.TableID{Source: "shop", Table: lines}
	view := func(name string, lineFields ...string) *transform.View {
		fields := []transform.Field{{Column: "qty", Name: "qty"}}
		for _, f := range lineFields {
			fields = append(fields, transform.Field{Column: f, Name: f})
		}
		return &transform.View{Name: name, Root: &transform.Node{Kind: transform.Root, Source: "shop", Table: orders, Key: []string{"id"},
			Fields: []transform.Field{{Column: "id", Name: "id"}, {Column: "status", Name: "status"}},
			Children: []*transform.Node{{Name: "lines", Kind: transform.HasMany, Source: "shop", Table: lines, Key: []string{"id"},
				On: []transform.JoinPair{{Parent: "id", Related: "order_id"}}, Fields: fields}}}}
	}
	copies := map[string][]capture.Table{"shop": {lines, orders}}
	start := func(views ...*transform.View) (*pipeline, *heldTables) {
		t.Helper()
		p := &pipeline{views: views, store: store}
		h, err := p.loadHeld()
		if err != nil {
			t.Fatal(err)
		}
		p.held = h
		return p, h
	}
	record := func(p *pipeline, plans ...*indexPlan) {
		t.Helper()
		if err := queueCopies(store, plans, log); err != nil {
			t.Fatal(err)
		}
		if err := p.recordLayouts(p.held, plans); err != nil {
			t.Fatal(err)
		}
	}
	check := func(h *heldTables, resumed bool, wantCopies map[string][]capture.Table, wantBuild bool) {
		t.Helper()
		got, build := h.split(copies, rootID, resumed)
		if diff := cmp.Diff(wantCopies, got); diff != "" || build != wantBuild {
			t.Fatalf("split: build %v, want %v; copies (-want +got):\n%s", build, wantBuild, diff)
		}
	}

	// The first start: the snapshot is to come, nothing is held.
	p, h := start(view("a"))
	check(h, false, copies, false)
	record(p)
	b := store.NewBatch()
	if err := b.SetCheckpoint("shop", capture.Checkpoint{Applied: 100, SnapshotDone: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()

	// A view over the same columns is built from the state alone.
	p, h = start(view("a"), view("b"))
	if !h.holds(rootID) || !h.holds(linesID) {
		t.Fatalf("after the snapshot the state holds orders %v, lines %v; want both", h.holds(rootID), h.holds(linesID))
	}
	check(h, false, map[string][]capture.Table{}, true)
	record(p)

	// One more column of lines: lines alone is copied, orders is built
	// from the state.
	p, h = start(view("a"), view("c", "price"))
	check(h, false, map[string][]capture.Table{"shop": {lines}}, true)
	plan := &indexPlan{vi: &viewIndex{view: "c", sources: []string{"shop"}, copies: map[string][]capture.Table{"shop": {lines}}, build: true}}
	record(p, plan)
	progress, err := store.ChunkProgress("shop")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]capture.TableProgress{{Table: lines}}, progress); diff != "" {
		t.Fatalf("queued copies (-want +got):\n%s", diff)
	}
	if err := store.SetChunkProgress("shop", []capture.TableProgress{{Table: lines, Rows: 5, Chunks: 1, Done: true}}); err != nil {
		t.Fatal(err)
	}

	// A restart before the alias moved: the copy that ended is not
	// queued again, and counts as done for the view.
	p, h = start(view("a"), view("c", "price"))
	check(h, true, map[string][]capture.Table{"shop": {lines}}, true)
	plan.vi.ended = h.ended(plan.vi.copies)
	record(p, plan)
	progress, err = store.ChunkProgress("shop")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]capture.TableProgress{{Table: lines, Rows: 5, Chunks: 1, Done: true}}, progress); diff != "" {
		t.Fatalf("copies after the restart (-want +got):\n%s", diff)
	}
	// And once that start is over, lines is held with the new column.
	_, h = start(view("a"), view("c", "price"))
	if !h.holds(linesID) {
		t.Fatal("lines is not held after its copy ended")
	}
}

// TestResumeBuild checks that a restart goes on with the build from the
// state of an added view, whose alias already points at its first index,
// and leaves a finished build, or one recorded for another index, alone.
func TestResumeBuild(t *testing.T) {
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	p := &pipeline{store: store}
	for _, tc := range []struct {
		name     string
		progress *state.BuildProgress
		want     bool
	}{
		{"no build", nil, false},
		{"cut short", &state.BuildProgress{Target: "p_orders_v1", After: "[7]"}, true},
		{"done", &state.BuildProgress{Target: "p_orders_v1", After: "[9]", Done: true}, false},
		{"another index", &state.BuildProgress{Target: "p_orders_v2", After: "[7]"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.progress != nil {
				if err := store.SetBuildProgress("orders", *tc.progress); err != nil {
					t.Fatal(err)
				}
			}
			plan := &indexPlan{vi: &viewIndex{view: "orders", IndexVersion: sink.IndexVersion{Alias: "p_orders"}}, version: sink.VersionPlan{Current: 1}}
			if err := p.resumeBuild(plan); err != nil {
				t.Fatal(err)
			}
			if plan.vi.build != tc.want || (plan.vi.copies != nil) != tc.want {
				t.Errorf("build %v, copies %v; want build %v", plan.vi.build, plan.vi.copies, tc.want)
			}
		})
	}
}
