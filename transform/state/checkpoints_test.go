package state_test

import (
	"testing"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/state"
)

// The store keeps the sources' checkpoints in memory: what it answers
// must be what is committed, never what a batch only wrote, and the same
// after a reopen.
func TestCheckpointsFollowCommits(t *testing.T) {
	dir := t.TempDir()
	store, err := state.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := func(step string, got capture.Checkpoint, err error, cp capture.Checkpoint) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if got != cp {
			t.Fatalf("%s: checkpoint %+v, want %+v", step, got, cp)
		}
	}
	first := capture.Checkpoint{SnapshotDone: true, Applied: 100}
	cp, err := store.Checkpoint("src") // read before anything is written
	want("new store", cp, err, capture.Checkpoint{})

	b := store.NewBatch()
	if err := b.SetCheckpoint("src", first); err != nil {
		t.Fatal(err)
	}
	cp, err = b.Checkpoint("src")
	want("batch after its write", cp, err, first)
	cp, err = store.Checkpoint("src")
	want("store before the commit", cp, err, capture.Checkpoint{})
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	cp, err = store.Checkpoint("src")
	want("store after the commit", cp, err, first)

	abandoned := store.NewBatch()
	if err := abandoned.SetCheckpoint("src", capture.Checkpoint{SnapshotDone: true, Applied: 200}); err != nil {
		t.Fatal(err)
	}
	abandoned.Close()
	cp, err = store.Checkpoint("src")
	want("store after an abandoned batch", cp, err, first)
	next := store.NewBatch()
	cp, err = next.Checkpoint("src")
	want("next batch", cp, err, first)
	next.Close()

	if err := store.ResetSource("src"); err != nil {
		t.Fatal(err)
	}
	cp, err = store.Checkpoint("src")
	want("store after a reset", cp, err, capture.Checkpoint{})

	b = store.NewBatch()
	if err := b.SetCheckpoint("src", first); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := store.NewPendingMarks().CommitSynced(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store, err = state.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cp, err = store.Checkpoint("src")
	want("reopened store", cp, err, first)
}
