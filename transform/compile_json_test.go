package transform

import (
	"strings"
	"testing"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// TestCompileJSONModes checks that the json key of a view may only name
// json and jsonb fields, by their path in the document.
func TestCompileJSONModes(t *testing.T) {
	orders := capture.Table{Schema: "public", Name: "orders"}
	customers := capture.Table{Schema: "public", Name: "customers"}
	schema := Schema{"src": {
		orders: {Table: orders, Key: []string{"id"}, Columns: []capture.Column{
			{Name: "id", Base: "int8"}, {Name: "customer_id", Base: "int8"}, {Name: "payload", Base: "jsonb"}, {Name: "note", Base: "text"},
		}},
		customers: {Table: customers, Key: []string{"id"}, Columns: []capture.Column{
			{Name: "id", Base: "int8"}, {Name: "prefs", Base: "json"},
		}},
	}}
	view := func(modes map[string]config.JSONMapping) []config.View {
		return []config.View{{
			Name: "orders", Root: config.TableRef{Source: "src", Schema: "public", Name: "orders"}, AllColumns: true,
			Relations: []config.Relation{{
				Name: "customer", Type: config.BelongsTo, AllColumns: true,
				Table: config.TableRef{Source: "src", Schema: "public", Name: "customers"},
				On:    []config.JoinPair{{Parent: "customer_id", Related: "id"}},
			}},
			JSON: modes,
		}}
	}
	tests := []struct {
		name    string
		modes   map[string]config.JSONMapping
		wantErr string
	}{
		{"none", nil, ""},
		{"root and relation", map[string]config.JSONMapping{"payload": config.JSONFlattened, "customer.prefs": config.JSONObject}, ""},
		{"not json", map[string]config.JSONMapping{"note": config.JSONObject}, `json lists "note", which is not a json or jsonb field`},
		{"unknown", map[string]config.JSONMapping{"prefs": config.JSONObject}, `json lists "prefs", which is not a json or jsonb field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			views, err := Compile(view(tt.modes), schema)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Compile error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			for field, mode := range tt.modes {
				if got := views[0].JSON[field]; got != string(mode) {
					t.Errorf("JSON[%q] = %q, want %q", field, got, mode)
				}
			}
		})
	}
}
