package state

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// DocRef names one document of one view.
type DocRef struct {
	View string
	ID   string // the root row's primary key, as stored
}

// appendPendingKey appends the key of ref's pending mark to b: the space,
// the view and the root row's key as JSON text (not in store form).
func appendPendingKey(b []byte, ref DocRef) []byte {
	b = append(b, spaceDirty...)
	b = append(append(b, 0), ref.View...)
	return append(append(b, 0), ref.ID...)
}

// appendGroup appends the value of a pending mark: the number of the group
// that marked the document, big-endian.
func appendGroup(b []byte, group uint64) []byte { return binary.BigEndian.AppendUint64(b, group) }

// PendingMarks is a batch of changes to pending marks alone, outside the
// batch of a group: marking documents again before they are sent anew, or
// clearing the marks of acknowledged ones. It is committed without a sync:
// losing it in a crash only means sending the documents again.
type PendingMarks struct {
	b   *pebble.Batch
	key []byte // every key is built here; the batch copies it
	val []byte
}

// NewPendingMarks starts a batch of pending mark changes.
func (s *Store) NewPendingMarks() *PendingMarks {
	return &PendingMarks{b: s.db.NewBatch()}
}

// Mark marks ref pending, sent by group.
func (m *PendingMarks) Mark(ref DocRef, group uint64) error {
	m.key = appendPendingKey(m.key[:0], ref)
	m.val = appendGroup(m.val[:0], group)
	return m.b.Set(m.key, m.val, nil)
}

// Clear removes ref's pending mark.
func (m *PendingMarks) Clear(ref DocRef) error {
	m.key = appendPendingKey(m.key[:0], ref)
	return m.b.Delete(m.key, nil)
}

// Commit applies the changes, without syncing them, and releases the
// batch.
func (m *PendingMarks) Commit() error {
	defer m.Close()
	return m.b.Commit(pebble.NoSync)
}

// CommitSynced applies the changes and syncs the store's log, which makes
// every batch committed before them durable too (the log is written in
// order). It is how the engine syncs the state before it confirms a
// position, with the marks of the group it settles or with none.
func (m *PendingMarks) CommitSynced() error {
	defer m.Close()
	if m.b.Empty() {
		// pebble commits an empty batch without writing, let alone
		// syncing, its log: a record of no data makes it sync.
		if err := m.b.LogData(nil, nil); err != nil {
			return fmt.Errorf("sync the state's log: %w", err)
		}
	}
	return m.b.Commit(pebble.Sync)
}

// Empty says whether the batch holds no change.
func (m *PendingMarks) Empty() bool { return m.b.Empty() }

// Close releases the batch, dropping the changes if not committed.
func (m *PendingMarks) Close() {
	if m.b != nil {
		m.b.Close() //nolint:errcheck // nothing of an abandoned batch is kept
		m.b = nil
	}
}

// PendingPage lists up to n documents awaiting acknowledgement, starting at
// the cursor from (nil for the first page), that keep accepts by view, in
// the order of their views and of the text of their keys. next is the
// cursor of the following page, nil after the last one. Paging keeps
// memory bounded however many documents a snapshot left pending.
func (s *Store) PendingPage(from []byte, n int, keep func(view string) bool) (refs []DocRef, next []byte, err error) {
	prefix := []byte(spaceDirty + "\x00")
	if from == nil {
		from = prefix
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: from, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, nil, err
	}
	for it.First(); it.Valid(); it.Next() {
		if len(refs) == n {
			next = bytes.Clone(it.Key())
			break
		}
		parts := bytes.SplitN(it.Key()[len(prefix):], []byte{0}, 2)
		if len(parts) == 2 && keep(string(parts[0])) {
			refs = append(refs, DocRef{View: string(parts[0]), ID: string(parts[1])})
		}
	}
	if err := it.Close(); err != nil {
		return nil, nil, fmt.Errorf("read pending documents: %w", err)
	}
	return refs, next, nil
}
