package state

import (
	"reflect"
	"testing"

	"github.com/projector-dev/projector/capture"
)

// TestChunkProgressSurvivesReopening records a source's chunked snapshot
// progress, reopens the store and reads it back; another source has none,
// and an empty plan forgets it.
func TestChunkProgressSurvivesReopening(t *testing.T) {
	dir := t.TempDir()
	store, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []capture.TableProgress{
		{Table: capture.Table{Schema: "public", Name: "customers"}, Rows: 100, Chunks: 1, Estimate: 100, Done: true},
		{Table: capture.Table{Schema: "public", Name: "orders"}, LastKey: []string{"eu", "it's 42"}, Rows: 5000, Chunks: 2, Estimate: 9000},
	}
	if err := store.SetChunkProgress("shop", want); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got, err := store.ChunkProgress("shop")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ChunkProgress(shop) = %+v, %v; want %+v", got, err, want)
	}
	if got, err := store.ChunkProgress("billing"); err != nil || got != nil {
		t.Fatalf("ChunkProgress(billing) = %+v, %v; want none", got, err)
	}
	if err := store.SetChunkProgress("shop", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := store.ChunkProgress("shop"); err != nil || got != nil {
		t.Fatalf("after an empty plan, ChunkProgress(shop) = %+v, %v; want none", got, err)
	}
}
