package daemon

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

func TestPublicationNeeds(t *testing.T) {
	orders := config.TableRef{Source: "shop", Schema: "public", Name: "orders"}
	lines := config.TableRef{Source: "shop", Schema: "public", Name: "lines"}
	people := config.TableRef{Source: "people", Schema: "public", Name: "customers"}
	cfg := &config.Config{
		Sources: map[string]config.Source{
			"shop":   {Name: "shop", PublicationMode: config.PublicationExisting},
			"people": {Name: "people"},
		},
		Views: []config.View{{
			Name:   "orders",
			Root:   orders,
			Fields: []config.Field{{Column: "id"}, {Column: "status"}},
			Relations: []config.Relation{
				{Name: "lines", Table: lines, AllColumns: true, On: []config.JoinPair{{Parent: "id", Related: "order_id"}}},
				{Name: "customer", Table: people, Fields: []config.Field{{Column: "name"}},
					On: []config.JoinPair{{Parent: "customer_id", Related: "id"}}},
			},
		}},
	}
	tests := []struct {
		source   string
		existing bool
		columns  map[capture.Table][]string
	}{
		// lines is shown whole, so it is absent: every column.
		{"shop", true, map[capture.Table][]string{{Schema: "public", Name: "orders"}: {"id", "status", "customer_id"}}},
		{"people", false, map[capture.Table][]string{{Schema: "public", Name: "customers"}: {"name", "id"}}},
	}
	for _, tt := range tests {
		existing, columns := publicationNeeds(cfg, tt.source)
		if existing != tt.existing {
			t.Errorf("%s: existing = %v, want %v", tt.source, existing, tt.existing)
		}
		if diff := cmp.Diff(tt.columns, columns); diff != "" {
			t.Errorf("%s: columns (-want +got):\n%s", tt.source, diff)
		}
	}
}

func TestSchemaChangeDescriptions(t *testing.T) {
	info := func(cols ...string) *capture.TableInfo {
		ti := &capture.TableInfo{}
		for _, c := range cols {
			ti.Columns = append(ti.Columns, capture.Column{Name: c})
		}
		return ti
	}
	tests := []struct {
		name        string
		before, now *capture.TableInfo
		want        string
	}{
		{"added", info("id", "name"), info("id", "name", "extra"), "gained column extra"},
		{"dropped", info("id", "name"), info("id"), "lost column name"},
		{"both", info("id", "name"), info("id", "extra"), "gained column extra and lost column name"},
		{"same", info("id", "name"), info("id", "name"), ""},
	}
	for _, tt := range tests {
		added, dropped := columnChanges(tt.before, tt.now)
		if got := describeColumnChanges(added, dropped); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := describePartitionChanges([]string{"public.a", "public.b"}, []string{"public.b", "public.c"}); got != "attached public.c; detached public.a" {
		t.Errorf("partition changes: %q", got)
	}
}
