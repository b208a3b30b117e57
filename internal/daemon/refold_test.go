package daemon

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/state"
)

// TestRefoldCopies: a view over entities with complete event logs is
// rebuilt from refolds and copies of its plain tables (the root last);
// one over an entity without a complete log (keep: none, a lost state)
// or reading an event table as a table is refused, saying why.
func TestRefoldCopies(t *testing.T) {
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b := store.NewBatch()
	for _, e := range []string{"order", "invoice"} {
		if err := b.StartEventLog("orders", e, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	cfg := &config.Config{Sources: map[string]config.Source{
		"orders": {Name: "orders", Events: map[string]config.EventStream{
			"order":   {MessagePrefix: "orders"},
			"invoice": {Table: "outbox"},
			"payment": {MessagePrefix: "payments", Keep: config.KeepNone},
			"refund":  {MessagePrefix: "refunds"}, // no log in the state
		}},
		"crm": {Name: "crm"},
	}}
	table, view := publicTable, belongsToView
	for _, tc := range []struct {
		name     string
		view     *config.View
		copies   map[string][]capture.Table
		entities []config.TableRef
		why      string
	}{
		{"entity root joining a table", view(config.EntityRef("orders", "order"), table("crm", "consumers"), config.EntityRef("orders", "invoice")),
			map[string][]capture.Table{"crm": {{Schema: "public", Name: "consumers"}}},
			[]config.TableRef{config.EntityRef("orders", "invoice"), config.EntityRef("orders", "order")}, ""},
		{"table root joining an entity", view(table("orders", "shops"), config.EntityRef("orders", "order")),
			map[string][]capture.Table{"orders": {{Schema: "public", Name: "shops"}}},
			[]config.TableRef{config.EntityRef("orders", "order")}, ""},
		{"keep none", view(config.EntityRef("orders", "payment")), nil, nil, "keeps no events (keep: none)"},
		{"no log", view(config.EntityRef("orders", "refund")), nil, nil, "the state holds no complete event log of entity refund"},
		{"event table", view(table("orders", "outbox")), nil, nil, "the view reads event table public.outbox"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copies, entities, why, err := refoldCopies(store, cfg, tc.view)
			if err != nil {
				t.Fatal(err)
			}
			if tc.why != "" {
				if !strings.Contains(why, tc.why) || copies != nil || entities != nil {
					t.Errorf("refoldCopies = %v, %v, %q; want refused with %q", copies, entities, why, tc.why)
				}
				return
			}
			if why != "" {
				t.Fatalf("refused: %s", why)
			}
			if diff := cmp.Diff(tc.copies, copies); diff != "" {
				t.Errorf("copies (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.entities, entities); diff != "" {
				t.Errorf("entities (-want +got):\n%s", diff)
			}
		})
	}
}
