package state

import "testing"

// TestNewRowHoldsAnyNumberOfColumns checks that the rows NewRow makes in
// one allocation take every column, past their room too.
func TestNewRowHoldsAnyNumberOfColumns(t *testing.T) {
	column := func(i int) Column {
		return Column{Name: string(rune('a' + i)), Value: string(rune('0' + i%10)), Numeric: i%2 == 0}
	}
	for _, n := range []int{0, 1, 4, 5, 8, 9, 20} {
		r := NewRow(n)
		if len(r.Cols) != 0 || cap(r.Cols) < n {
			t.Fatalf("NewRow(%d) has %d columns and room for %d", n, len(r.Cols), cap(r.Cols))
		}
		for i := range n + 2 {
			r.Cols = append(r.Cols, column(i))
		}
		for i := range n + 2 {
			if r.Cols[i] != column(i) {
				t.Fatalf("NewRow(%d): column %d is %v", n, i, r.Cols[i])
			}
		}
	}
}
