package transform

import (
	"reflect"
	"testing"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/state"
)

func TestProject(t *testing.T) {
	p, err := newPlan([]*View{orderHistory()})
	if err != nil {
		t.Fatal(err)
	}
	orders := p.tables[state.TableID{Source: "orders", Table: tbl("orders")}]
	all := &tablePlan{allColumns: true, columns: map[string]bool{"id": true}, sorted: []string{"id"}}
	old := &state.Row{Cols: []state.Column{{Name: "id", Value: "1"}, {Name: "notes", Value: `"kept"`}, {Name: "status", Value: `"placed"`}}}
	tests := []struct {
		name      string
		tp        *tablePlan
		after     capture.Row
		unchanged []string
		old       *state.Row
		want      []state.Column
	}{
		{"only the stored columns, in name order", orders,
			capture.Row{"total_cents": int64(250), "status": "paid", "comment": "not stored", "id": int64(1), "restaurant_id": int64(4), "consumer_id": int64(9)},
			nil, nil,
			[]state.Column{{Name: "consumer_id", Value: "9"}, {Name: "id", Value: "1"}, {Name: "restaurant_id", Value: "4"}, {Name: "status", Value: `"paid"`}, {Name: "total_cents", Value: "250"}}},
		{"a stored column the row lacks is left out", orders,
			capture.Row{"id": int64(1), "status": nil},
			nil, nil,
			[]state.Column{{Name: "id", Value: "1"}, {Name: "status", Value: "null"}}},
		{"an unchanged TOASTed value comes from the old row, in order", orders,
			capture.Row{"id": int64(1), "total_cents": int64(3)},
			[]string{"status"}, old,
			[]state.Column{{Name: "id", Value: "1"}, {Name: "status", Value: `"placed"`}, {Name: "total_cents", Value: "3"}}},
		{"every column of a table shown whole, in name order", all,
			capture.Row{"b": "x", "a": capture.Numeric("1.50"), "id": int64(2)},
			[]string{"notes"}, old,
			[]state.Column{{Name: "a", Value: `"1.50"`, Numeric: true}, {Name: "b", Value: `"x"`}, {Name: "id", Value: "2"}, {Name: "notes", Value: `"kept"`}}},
	}
	// into is reused by every case, as a snapshot's rows reuse one row:
	// what an earlier case left in it must not show.
	into := state.NewRow(1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := project(tt.tp, tt.after, tt.unchanged, tt.old, nil)
			if !reflect.DeepEqual(got.Cols, tt.want) {
				t.Fatalf("project = %+v, want %+v", got.Cols, tt.want)
			}
			reused := project(tt.tp, tt.after, tt.unchanged, tt.old, into)
			if reused != into || !reflect.DeepEqual(reused.Cols, tt.want) {
				t.Fatalf("project into a reused row = %+v, want %+v in that row", reused.Cols, tt.want)
			}
		})
	}
}
