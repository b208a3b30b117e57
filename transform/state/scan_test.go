package state

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestSnapshotReadsInAnyOrder reads rows and join lookups from a snapshot
// in key order, in reverse, with gaps wider than a reader steps over, and
// at random, and checks every answer against what was written: a reader
// over a snapshot steps forward through the store for reads in key order,
// and must answer the same whatever order they come in.
func TestSnapshotReadsInAnyOrder(t *testing.T) {
	store, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	items := TableID{Source: "shop", Table: tbl("order_items")}
	other := TableID{Source: "shop", Table: tbl("orders")}
	byOrder := []string{"order_id"}
	rows := map[int]bool{}         // the items stored
	children := map[int][]string{} // order id: its items' keys, in key order
	write := func(b *Batch, id int) error {
		pk := "[" + strconv.Itoa(id) + "]"
		row := NewRow(1)
		row.Cols = append(row.Cols, Column{Name: "v", Value: strconv.Itoa(id * 7)})
		if err := b.SetRow(items, pk, row, false); err != nil {
			return err
		}
		if err := b.SetRow(other, pk, row, false); err != nil {
			return err
		}
		order := id / 20 // orders 0 to 6: up to 20 items each, more than a reader steps over
		rows[id] = true
		children[order] = append(children[order], pk)
		return b.AddIndex(items, byOrder, "["+strconv.Itoa(order)+"]", pk)
	}
	// Even items first, flushed to a table file, then odd ones of some
	// orders and deletions in the memtable: reads merge both.
	b := store.NewBatch()
	for id := 0; id < 120; id += 2 {
		if err := write(b, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := store.Flush(); err != nil {
		t.Fatal(err)
	}
	b = store.NewBatch()
	for id := 41; id < 80; id += 2 {
		if err := write(b, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int{0, 2, 4, 50, 52, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 78} {
		pk := "[" + strconv.Itoa(id) + "]"
		if err := b.DeleteRow(items, pk); err != nil {
			t.Fatal(err)
		}
		if err := b.RemoveIndex(items, byOrder, "["+strconv.Itoa(id/20)+"]", pk); err != nil {
			t.Fatal(err)
		}
		delete(rows, id)
		children[id/20] = slices.DeleteFunc(children[id/20], func(k string) bool { return k == pk })
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	for order := range children {
		SortKeys(children[order])
	}

	span := func(from, to, step int) []int {
		var s []int
		for i := from; step > 0 && i < to || step < 0 && i > to; i += step {
			s = append(s, i)
		}
		return s
	}
	shuffled := span(-5, 130, 1)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	orders := []struct {
		name string
		ids  []int
	}{
		{"ascending", span(-5, 130, 1)},
		{"descending", span(130, -5, -1)},
		{"gaps", span(-5, 130, 13)},
		{"repeated", []int{3, 3, 4, 4, 4, 41, 41, 40, 42, 200, 200, 1, 119, 119}},
		{"random", shuffled},
	}
	for _, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			rd := store.Snapshot(ReadUncached)
			defer rd.Close()
			for _, id := range o.ids {
				pk := "[" + strconv.Itoa(id) + "]"
				row, err := rd.Row(items, pk)
				if err != nil {
					t.Fatal(err)
				}
				switch got, want := row != nil, rows[id]; {
				case got != want:
					t.Fatalf("row %d read as found %v, want %v", id, got, want)
				case got:
					if v, _ := row.Value("v"); v != strconv.Itoa(id*7) {
						t.Fatalf("row %d has v %s, want %d", id, v, id*7)
					}
				}
				order := id / 7 // -1 to 18: orders with items, emptied ones and missing ones
				pks, err := rd.Lookup(items, byOrder, "["+strconv.Itoa(order)+"]")
				if err != nil {
					t.Fatal(err)
				}
				if want := children[order]; fmt.Sprint(pks) != fmt.Sprint(want) {
					t.Fatalf("order %d has items %v, want %v", order, pks, want)
				}
				// The other table's rows, read in between, are all there.
				if id >= 0 && id < 120 && id%2 == 0 {
					if row, err := rd.Row(other, pk); err != nil || row == nil {
						t.Fatalf("orders row %d: %v, %v", id, row, err)
					}
				}
			}
		})
	}
}
