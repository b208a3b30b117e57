package sink

import (
	"context"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestIndexVersions walks a view's index through its life: the first
// version, a start with the same shape, a reshaped view that builds the
// next version beside the current one, a rebuild cut short, and the alias
// moved once the new version is complete.
func TestIndexVersions(t *testing.T) {
	search := testbed.NewSearch(t)
	c := connect(t, search.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alias := search.Index("orders")
	shape := orderShape()
	mapping, fp := ViewMapping(shape, c.Flavour)

	plan, err := c.PlanVersion(ctx, alias, mapping, fp, testSettings)
	if err != nil {
		t.Fatalf("PlanVersion without an index: %v", err)
	}
	if plan.Current != 0 || plan.Reshaped || plan.Unfinished {
		t.Fatalf("plan without an index = %+v, want version 0", plan)
	}
	first, err := c.OpenVersion(ctx, plan, false)
	if err != nil {
		t.Fatalf("OpenVersion: %v", err)
	}
	if want := (IndexVersion{Alias: alias, Target: IndexName(alias, 1)}); first != want || first.Rebuilding() {
		t.Fatalf("first version = %+v, want %+v", first, want)
	}
	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 1 {
		t.Fatalf("CurrentVersion = %d, %v; want the alias on version 1", v, err)
	}
	if ok, err := c.IndexExists(ctx, DeadLetterIndex(alias)); err != nil || !ok {
		t.Fatalf("dead-letter index exists = %v, %v; want it created with the first version", ok, err)
	}
	if err := c.MoveAlias(ctx, first); err == nil {
		t.Error("MoveAlias of a version that is not being built succeeded")
	}

	same, err := c.PlanVersion(ctx, alias, mapping, fp, testSettings)
	if err != nil {
		t.Fatalf("PlanVersion, same shape: %v", err)
	}
	if same.Current != 1 || same.Reshaped || same.Unfinished {
		t.Errorf("plan of the same shape = %+v, want version 1 unchanged", same)
	}

	shape.Fields = append(shape.Fields, Field{Name: "note", Type: Text})
	mapping2, fp2 := ViewMapping(shape, c.Flavour)
	reshaped, err := c.PlanVersion(ctx, alias, mapping2, fp2, testSettings)
	if err != nil {
		t.Fatalf("PlanVersion, new shape: %v", err)
	}
	if reshaped.Current != 1 || !reshaped.Reshaped || reshaped.Unfinished {
		t.Fatalf("plan of a new shape = %+v, want version 1 reshaped", reshaped)
	}
	second, err := c.OpenVersion(ctx, reshaped, true)
	if err != nil {
		t.Fatalf("OpenVersion for a rebuild: %v", err)
	}
	if want := (IndexVersion{Alias: alias, Target: IndexName(alias, 2), From: IndexName(alias, 1)}); second != want || !second.Rebuilding() {
		t.Fatalf("rebuilt version = %+v, want %+v", second, want)
	}
	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 1 {
		t.Fatalf("CurrentVersion while rebuilding = %d, %v; want the alias still on version 1", v, err)
	}

	// A stop before the alias moved: the next start finds version 2.
	again, err := c.PlanVersion(ctx, alias, mapping2, fp2, testSettings)
	if err != nil {
		t.Fatalf("PlanVersion after a cut-short rebuild: %v", err)
	}
	if again.Current != 1 || !again.Unfinished {
		t.Fatalf("plan after a cut-short rebuild = %+v, want version 1 with version 2 unfinished", again)
	}
	if resumed, err := c.OpenVersion(ctx, again, true); err != nil || resumed != second {
		t.Fatalf("OpenVersion resuming the rebuild = %+v, %v; want %+v", resumed, err, second)
	}

	if err := c.MoveAlias(ctx, second); err != nil {
		t.Fatalf("MoveAlias: %v", err)
	}
	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 2 {
		t.Errorf("CurrentVersion after the move = %d, %v; want 2", v, err)
	}
	if ok, err := c.IndexExists(ctx, IndexName(alias, 1)); err != nil || ok {
		t.Errorf("version 1 exists = %v, %v; want it deleted", ok, err)
	}
	done, err := c.PlanVersion(ctx, alias, mapping2, fp2, testSettings)
	if err != nil {
		t.Fatalf("PlanVersion after the move: %v", err)
	}
	if done.Current != 2 || done.Reshaped || done.Unfinished {
		t.Errorf("plan after the move = %+v, want version 2 unchanged", done)
	}
}
