package capture

import (
	"testing"
)

// TestReleaseRecyclesChunkRows: a released snapshot chunk leaves its
// transaction without changes and comes back, emptied, as the room of a
// later chunk of rows not much narrower; a transaction that is no
// recycled chunk keeps its changes, and the recycler keeps no more than a
// few chunks.
func TestReleaseRecyclesChunkRows(t *testing.T) {
	r := newChunkRecycler()
	chunk := func() []Change {
		changes := make([]Change, 0, 4)
		for i := range 3 {
			changes = append(changes, Change{Op: Read, Table: Table{Schema: "public", Name: "t"}, Key: []string{"id"},
				New: Row{"id": int64(i), "name": "x"}})
		}
		return changes
	}
	changes := chunk()
	rows := []Row{changes[0].New, changes[1].New, changes[2].New}
	txn := &Transaction{Snapshot: true, Changes: changes, recycle: r}
	txn.Release()
	if txn.Changes != nil {
		t.Fatalf("released transaction still has %d changes", len(txn.Changes))
	}
	txn.Release() // a second call does nothing
	got := r.get(2)
	if len(got) != 0 || cap(got) != 4 {
		t.Fatalf("recycled chunk: len %d cap %d, want 0 and 4", len(got), cap(got))
	}
	for i := range rows {
		c := got[:cap(got)][i]
		if len(c.New) != 0 {
			t.Errorf("recycled row %d holds %v, want it empty", i, c.New)
		}
		c.New["probe"] = true
		if !rows[i]["probe"].(bool) {
			t.Errorf("recycled row %d is a new map, not the released one", i)
		}
		if c.Op != "" || c.Key != nil || c.Table != (Table{}) {
			t.Errorf("recycled change %d keeps %+v of the applied chunk", i, c)
		}
	}
	if r.get(2) != nil {
		t.Fatal("a chunk recycled once came back twice")
	}
	// Rows more than twice as wide as the table's are dropped, not
	// reused; rows up to twice as wide are reused.
	(&Transaction{Snapshot: true, Changes: chunk(), recycle: r}).Release()
	if got := r.get(0); got != nil {
		t.Fatal("rows of two columns were recycled for a table of none")
	}
	(&Transaction{Snapshot: true, Changes: chunk(), recycle: r}).Release()
	if got := r.get(1); got == nil {
		t.Fatal("rows of two columns were not recycled for a table of one")
	}

	plain := &Transaction{Changes: chunk()}
	plain.Release()
	if len(plain.Changes) != 3 || plain.Changes[0].New["name"] != "x" {
		t.Fatalf("Release changed a transaction that is no recycled chunk: %+v", plain.Changes)
	}

	for range recycledChunks + 3 {
		(&Transaction{Snapshot: true, Changes: chunk(), recycle: r}).Release()
	}
	kept := 0
	for r.get(2) != nil {
		kept++
	}
	if kept != recycledChunks {
		t.Fatalf("recycler kept %d chunks, want %d", kept, recycledChunks)
	}
}
