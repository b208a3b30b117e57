package transform

import (
	"testing"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/fold"
)

// TestEntityRowIsProjectedRow checks that the entity row and state
// entityRow render at once are byte for byte what project makes of
// Shape.EncodedRow's row and what the state encodes as, column by column
// with the same numeric marks, and that a state EncodedRow refuses fails
// with the same error.
func TestEntityRowIsProjectedRow(t *testing.T) {
	shape := fold.NewShape(config.EventStream{Fields: map[string]string{
		"customer_id": "bigint", "region": "text", "total": "numeric", "items": "jsonb", "at": "timestamptz", "paid": "bool"}})
	all := &tablePlan{key: []string{config.EntityKey}, allColumns: true}
	some := &tablePlan{key: []string{config.EntityKey}, columns: map[string]bool{config.EntityKey: true, "total": true, "items": true, "tags": true}}
	some.sorted = []string{config.EntityKey, "items", "tags", "total"}
	f := &folds{} // one buffer for every state, as in a stream
	noKey := &tablePlan{key: []string{config.EntityKey}, columns: map[string]bool{"region": true}, sorted: []string{"region"}}
	for _, tc := range []struct {
		name  string
		state string
	}{
		{"every column", `{"customer_id": 7, "region": "eu", "total": 12.5, "tags": ["a", {"b": 1}], "items": [{"sku": "x", "price": 2.5}], "at": "2024-01-02T03:04:05Z", "paid": true}`},
		{"missing columns", `{"total": 3}`},
		{"nulls", `{"customer_id": null, "region": null, "tags": null, "items": null, "total": null}`},
		{"a state id", `{"id": "other", "customer_id": "42", "total": 100000000000000000000}`},
		{"escaped", `{"region": "<a & \"b\">", "items": [{"sku": "\u00e9\n"}], "odd \"field\"": 1}`},
		{"empty", `{}`},
		{"a field that does not convert", `{"customer_id": "x", "items": []}`},
		{"a text field holding an object", `{"region": {"a": 1}}`},
	} {
		for name, tp := range map[string]*tablePlan{"all columns": all, "some columns": some, "no key column": noKey, "no view": nil} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				st, key := entityState(t, shape, tc.state)
				wantRow, wantEncoded, wantErr := shape.EncodedRow("17", st)
				encoded, row, err := f.entityRow(tp, shape, key, st, 0)
				if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
					t.Fatalf("error %v, EncodedRow's %v", err, wantErr)
				}
				if err != nil {
					return
				}
				if encoded != string(wantEncoded) {
					t.Errorf("state encoded as %s, EncodedRow's %s", encoded, wantEncoded)
				}
				if tp == nil {
					if row != nil {
						t.Errorf("a row made for an entity no view reads: %v", row)
					}
					return
				}
				want := project(tp, wantRow, nil, nil, nil)
				if len(row.Cols) != len(want.Cols) {
					t.Fatalf("row %v, project's %v", row.Cols, want.Cols)
				}
				for i := range want.Cols {
					if row.Cols[i] != want.Cols[i] {
						t.Errorf("column %d: %+v, project's %+v", i, row.Cols[i], want.Cols[i])
					}
				}
			})
		}
	}
}
