package transform

import (
	"testing"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/fold"
)

// TestPreviousRowIsTheStoredRow checks that the previous entity row made
// from a state has, for the key and every indexed column, what the row
// applied for that state holds: present or absent alike, the same JSON,
// the same numeric mark.
func TestPreviousRowIsTheStoredRow(t *testing.T) {
	shape := fold.NewShape(config.EventStream{Fields: map[string]string{
		"customer_id": "bigint", "region": "text", "total": "numeric", "items": "jsonb"}})
	for _, allColumns := range []bool{true, false} {
		tp := &tablePlan{key: []string{config.EntityKey}, allColumns: allColumns,
			columns: map[string]bool{config.EntityKey: true, "customer_id": true, "region": true, "total": true, "tags": true},
			indexes: [][]string{{"customer_id"}, {"region", "total"}, {"tags"}, {config.EntityKey, "region"}}}
		tp.sorted = []string{"customer_id", config.EntityKey, "region", "tags", "total"}
		for _, tc := range []struct {
			name  string
			state string
		}{
			{"every column", `{"customer_id": 7, "region": "eu", "total": 12.5, "tags": ["a", {"b": 1}], "items": [{"sku": "x"}]}`},
			{"missing columns", `{"total": 3}`},
			{"nulls", `{"customer_id": null, "region": null, "tags": null}`},
			{"a state id", `{"id": "other", "customer_id": "42", "total": 100000000000000000000}`},
			{"empty", `{}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st, key := entityState(t, shape, tc.state)
				row, _, err := shape.EncodedRow("17", st)
				if err != nil {
					t.Fatal(err)
				}
				stored := project(tp, row, nil, nil, nil)
				prev, ok := previousRow(tp, shape, key, st)
				if !ok {
					t.Fatal("no previous row made")
				}
				for _, col := range []string{config.EntityKey, "customer_id", "region", "total", "tags"} {
					want, wantOK := stored.Value(col)
					got, gotOK := prev.Value(col)
					if got != want || gotOK != wantOK || prev.IsNumeric(col) != stored.IsNumeric(col) {
						t.Errorf("column %s: made %q (%v, numeric %v), stored %q (%v, numeric %v)",
							col, got, gotOK, prev.IsNumeric(col), want, wantOK, stored.IsNumeric(col))
					}
				}
			})
		}
	}
	if _, ok := previousRow(&tablePlan{indexes: [][]string{{"customer_id"}}}, shape, "1", nil); ok {
		t.Error("a row made for no state: it must be read, a refold forgets states before rows")
	}
}

// entityState decodes a folded state written as JSON and the key of
// aggregate 17 under shape, failing the test on either error.
func entityState(t *testing.T, shape fold.Shape, state string) (map[string]any, any) {
	t.Helper()
	st, err := fold.DecodeState(state)
	if err != nil {
		t.Fatal(err)
	}
	key, err := shape.Key("17")
	if err != nil {
		t.Fatal(err)
	}
	return st, key
}
