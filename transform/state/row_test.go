package state

import (
	"slices"
	"testing"
)

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

// TestRowIntoReusesTheRowGiven checks that RowInto decodes a stored row
// into the row it is given, reusing it for the next read, that it reads
// the same columns as Row, and that a reader filling the cache never
// hands the cache the caller's row.
func TestRowIntoReusesTheRowGiven(t *testing.T) {
	store, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	items := TableID{"shop", tbl("items")}
	stored := map[string]*Row{
		"[1]": {Cols: []Column{{Name: "id", Value: "1"}, {Name: "price", Value: `"1.50"`, Numeric: true}, {Name: "sku", Value: `"a"`}}},
		"[2]": {Cols: []Column{{Name: "id", Value: "2"}, {Name: "price", Value: `"2.25"`, Numeric: true}, {Name: "sku", Value: `"bb"`}}},
		"[3]": {Cols: []Column{{Name: "id", Value: "3"}, {Name: "sku", Value: `"c"`}}}, // another column list
	}
	b := store.NewBatch()
	for pk, row := range stored {
		if err := b.SetRow(items, pk, row, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()

	same := func(got, want *Row) bool { return slices.Equal(got.Cols, want.Cols) }
	for _, mode := range []ReadMode{ReadThrough, ReadUncached, ReadCached} {
		rd := store.Snapshot(mode)
		into := NewRow(2) // too small for the first row: it grows
		for _, pk := range []string{"[1]", "[2]", "[3]", "[1]", "[4]"} {
			got, err := rd.RowInto(items, pk, into)
			if err != nil {
				t.Fatal(err)
			}
			want := stored[pk]
			if want == nil {
				if got != nil {
					t.Fatalf("mode %d: row %s read as %v, want none", mode, pk, got.Cols)
				}
				continue
			}
			if got == nil || !same(got, want) {
				t.Fatalf("mode %d: row %s read as %v, want %v", mode, pk, got, want.Cols)
			}
			plain, err := rd.Row(items, pk)
			if err != nil || plain == nil || !same(plain, want) {
				t.Fatalf("mode %d: Row(%s) = %v, %v; want %v", mode, pk, plain, err, want.Cols)
			}
			switch {
			case mode == ReadCached && got == into:
				t.Fatalf("a reader filling the cache decoded row %s into the caller's row", pk)
			case mode != ReadCached && got != into:
				t.Fatalf("mode %d: row %s was not decoded into the row given", mode, pk)
			}
			if plain == into {
				t.Fatalf("mode %d: Row(%s) returned the caller's row", mode, pk)
			}
		}
		if err := rd.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
