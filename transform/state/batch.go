package state

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/projector-dev/projector/capture"
)

// Batch is one atomic change of the state: a group of transactions' rows,
// join index entries, pending marks and checkpoints, committed together,
// so that state, positions and pending documents never disagree after a
// crash. Its reads see its own writes, so later changes in a group see
// the earlier ones. Only the engine's goroutine uses batches, one at a
// time: they share the store's row cache.
type Batch struct {
	b         *pebble.Batch
	read      *Reader // reads b as it is written
	cache     *rowCache
	key       []byte // row and index entry keys are built here; the batch copies them
	val       []byte
	committed bool
	// checkpoints are the store's committed ones; set are those this
	// batch writes, which they become once it is committed.
	checkpoints *checkpoints
	set         map[string]capture.Checkpoint
	// runs, in a copy batch, hold its rows, join index entries and
	// pending marks until they are ingested at commit (copyruns.go);
	// nil once the batch writes everything to b.
	runs  *copyRuns
	store *Store
}

// NewBatch starts an atomic change of the state. Close must follow.
func (s *Store) NewBatch() *Batch {
	b := s.db.NewIndexedBatch()
	return &Batch{b: b, read: newLiveReader(b, s.cols, s.rows), cache: s.rows, checkpoints: s.checkpoints, store: s}
}

// NewCopyBatch starts a batch for a group of snapshot rows alone, one that
// a crash before its snapshot's end makes copy again: its rows, join index
// entries and pending marks are ingested as sorted tables at commit,
// without the log and the memtable (see copyruns.go for why that is
// safe). It reads and writes like any batch; its first read or removal of
// a row or index entry moves what it holds into the batch proper, so that
// reads see it and writes stay in order. Close must follow.
func (s *Store) NewCopyBatch() *Batch {
	b := s.NewBatch()
	b.runs = s.spareRuns
	s.spareRuns = nil
	if b.runs == nil {
		b.runs = newCopyRuns()
	}
	return b
}

// releaseRuns empties the batch's runs and keeps them for the next copy
// batch; the batch writes to itself from then on.
func (b *Batch) releaseRuns() {
	if b.runs == nil {
		return
	}
	b.runs.reset()
	b.store.spareRuns = b.runs
	b.runs = nil
}

// direct moves the writes a copy batch holds into the batch proper, in
// the order they were made, and has it write everything there from now
// on.
func (b *Batch) direct() error {
	runs := b.runs
	if runs == nil {
		return nil
	}
	defer b.releaseRuns()
	return runs.each(func(r *run) error {
		for _, e := range r.entries {
			if err := b.b.Set(r.key(e), r.value(e), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// Row reads one row as the batch has it, or nil when there is none.
func (b *Batch) Row(t TableID, pk string) (*Row, error) {
	if err := b.direct(); err != nil {
		return nil, err
	}
	return b.read.Row(t, pk)
}

// Lookup returns the primary keys of the rows of t whose cols equal vals,
// as the batch has them (see Reader.Lookup).
func (b *Batch) Lookup(t TableID, cols []string, vals string) ([]string, error) {
	if err := b.direct(); err != nil {
		return nil, err
	}
	return b.read.Lookup(t, cols, vals)
}

// SetRow writes a row's new version. A copied row (one of a snapshot) is
// left out of the row cache: a snapshot writes each row once, and would
// only push out the rows streaming reads again.
func (b *Batch) SetRow(t TableID, pk string, row *Row, copied bool) error {
	if !copied {
		if err := b.direct(); err != nil {
			return err
		}
	}
	k := appendRowKey(b.key[:0], t, pk)
	b.key = k
	if copied {
		b.cache.remove(k)
	} else {
		b.cache.put(k, row)
	}
	v, err := b.read.cols.appendEncoded(b.val[:0], row)
	if err != nil {
		return fmt.Errorf("store %s row %s: %w", t.Table, pk, err)
	}
	b.val = v
	if b.runs != nil {
		runOf(b.runs.rows, t).set(k, v)
		return nil
	}
	return b.b.Set(k, v, nil)
}

// DeleteRow removes a row. Its join index entries are the caller's to
// remove (RemoveIndex): only it knows which columns are indexed.
func (b *Batch) DeleteRow(t TableID, pk string) error {
	if err := b.direct(); err != nil {
		return err
	}
	k := appendRowKey(b.key[:0], t, pk)
	b.key = k
	b.cache.remove(k)
	return b.b.Delete(k, nil)
}

// AddIndex records that t's row pk has the values vals (a JSON array) in
// cols, so that Lookup finds it.
func (b *Batch) AddIndex(t TableID, cols []string, vals, pk string) error {
	b.key = appendKeyValue(appendIndexPrefix(b.key[:0], t, cols, vals), pk)
	if b.runs != nil {
		runOf(b.runs.index, t).set(b.key, nil)
		return nil
	}
	return b.b.Set(b.key, nil, nil)
}

// RemoveIndex removes the index entry AddIndex made.
func (b *Batch) RemoveIndex(t TableID, cols []string, vals, pk string) error {
	if err := b.direct(); err != nil {
		return err
	}
	b.key = appendKeyValue(appendIndexPrefix(b.key[:0], t, cols, vals), pk)
	return b.b.Delete(b.key, nil)
}

// ScanRows calls fn with the primary key of every row of t, as the batch
// had them when the scan began; fn may change the batch.
func (b *Batch) ScanRows(t TableID, fn func(pk string) error) error {
	if err := b.direct(); err != nil {
		return err
	}
	return scanRows(b.b, t, fn)
}

// Checkpoint returns what the state, with this batch, has applied of
// source.
func (b *Batch) Checkpoint(source string) (capture.Checkpoint, error) {
	if cp, ok := b.set[source]; ok {
		return cp, nil
	}
	return b.checkpoints.read(b.b, source)
}

// SetCheckpoint records what the state has applied of source once the
// batch is committed.
func (b *Batch) SetCheckpoint(source string, cp capture.Checkpoint) error {
	if err := writeCheckpoint(b.b, source, cp); err != nil {
		return fmt.Errorf("write checkpoint of source %q: %w", source, err)
	}
	if b.set == nil {
		b.set = map[string]capture.Checkpoint{}
	}
	b.set[source] = cp
	return nil
}

// MarkPending marks ref as derived by group and not yet acknowledged by
// the index: a restart sends it again (Store.PendingPage) until the mark
// is cleared (PendingMarks.Clear).
func (b *Batch) MarkPending(ref DocRef, group uint64) error {
	b.key = appendPendingKey(b.key[:0], ref)
	b.val = appendGroup(b.val[:0], group)
	if b.runs != nil {
		b.runs.pending.set(b.key, b.val)
		return nil
	}
	return b.b.Set(b.key, b.val, nil)
}

// Commit applies the batch to the state without syncing it: nothing of it
// is confirmed to a source before the log is synced
// (PendingMarks.CommitSynced), and a batch lost in a crash is sent again
// by the source and applied again.
//
// A copy batch first ingests the writes it holds: the batch proper comes
// after them, so its writes (the checkpoint) win.
func (b *Batch) Commit() error {
	if b.runs != nil {
		if err := b.store.ingest(b.runs); err != nil {
			return err
		}
		b.releaseRuns()
	}
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return err
	}
	b.committed = true
	b.checkpoints.committed(b.set)
	return nil
}

// Close releases the batch. A batch closed without being committed
// leaves the state as it was, and the row cache forgets every row, since
// it holds the batch's.
func (b *Batch) Close() {
	b.read.close() //nolint:errcheck // read-only iterators; an error shows in the reads themselves
	b.releaseRuns()
	if !b.committed {
		b.cache.reset()
	}
	b.b.Close() //nolint:errcheck // committed or abandoned: nothing is left to lose
}
