// Package state is projector's durable local state and the only package
// that knows how it is stored: the rows the views need, by table and
// primary key; the join indexes over them; the pending marks of documents
// not yet acknowledged by the index; the external document versions; each
// source's checkpoint and slot mark; the catalog identities of its tables;
// and the migrations of older state formats. It speaks that domain and
// keeps the storage engine (Pebble) to itself: every other package reads
// and writes the state through Store, Batch, Reader and PendingMarks.
//
// The on-disk format is a contract with every state directory already
// written: testdata/state-v1 is a state written by an earlier version,
// which must open and read unchanged, and the engine's tests compare what
// it writes with that state byte for byte. Changing a key or value form
// needs a migration (see keymigrate.go) and a new golden state.
package state
