package state

import "testing"

func TestUncachedRowReplacesTheCachedVersion(t *testing.T) {
	store, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	states := TableID{"shop", tbl("states")}
	b := store.NewBatch()
	if err := b.SetRow(states, `["a"]`, cachedRow(`"old"`), false); err != nil {
		t.Fatal(err)
	}
	if err := b.SetUncachedRow(states, `["a"]`, cachedRow(`"new"`)); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if row, ok := store.rows.get(rowKey(states, `["a"]`)); ok {
		t.Fatalf("the row cache holds %v, written uncached", row.Cols)
	}
	rd := store.Snapshot(ReadCached)
	defer rd.Close()
	if row, err := rd.Row(states, `["a"]`); err != nil || row == nil || row.Cols[0].Value != `"new"` {
		t.Fatalf("after commit the store reads %v, %v; want the new version", row, err)
	}
}
