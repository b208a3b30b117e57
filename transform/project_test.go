package transform

import (
	"reflect"
	"testing"

	"github.com/projector-dev/projector/capture"
)

func TestProject(t *testing.T) {
	p, err := newPlan([]*View{orderHistory()})
	if err != nil {
		t.Fatal(err)
	}
	orders := p.tables[tableID{source: "orders", table: tbl("orders")}]
	all := &tablePlan{allColumns: true, columns: map[string]bool{"id": true}, sorted: []string{"id"}}
	old := &storedRow{cols: []storedColumn{{name: "id", value: "1"}, {name: "notes", value: `"kept"`}, {name: "status", value: `"placed"`}}}
	tests := []struct {
		name      string
		tp        *tablePlan
		after     capture.Row
		unchanged []string
		old       *storedRow
		want      []storedColumn
	}{
		{"only the stored columns, in name order", orders,
			capture.Row{"total_cents": int64(250), "status": "paid", "comment": "not stored", "id": int64(1), "restaurant_id": int64(4), "consumer_id": int64(9)},
			nil, nil,
			[]storedColumn{{"consumer_id", "9", false}, {"id", "1", false}, {"restaurant_id", "4", false}, {"status", `"paid"`, false}, {"total_cents", "250", false}}},
		{"a stored column the row lacks is left out", orders,
			capture.Row{"id": int64(1), "status": nil},
			nil, nil,
			[]storedColumn{{"id", "1", false}, {"status", "null", false}}},
		{"an unchanged TOASTed value comes from the old row, in order", orders,
			capture.Row{"id": int64(1), "total_cents": int64(3)},
			[]string{"status"}, old,
			[]storedColumn{{"id", "1", false}, {"status", `"placed"`, false}, {"total_cents", "3", false}}},
		{"every column of a table shown whole, in name order", all,
			capture.Row{"b": "x", "a": capture.Numeric("1.50"), "id": int64(2)},
			[]string{"notes"}, old,
			[]storedColumn{{"a", `"1.50"`, true}, {"b", `"x"`, false}, {"id", "2", false}, {"notes", `"kept"`, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := project(tt.tp, tt.after, tt.unchanged, tt.old)
			if !reflect.DeepEqual(got.cols, tt.want) {
				t.Fatalf("project = %+v, want %+v", got.cols, tt.want)
			}
		})
	}
}
