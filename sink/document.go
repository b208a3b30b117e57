package sink

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
)

// Document is one revision of one search document. A nil Source deletes
// the document.
//
// Version is the revision, written with version_type external: the engine
// keeps whichever revision is highest, so a replayed or reordered older
// revision never overwrites a newer one.
type Document struct {
	Index   string
	ID      string
	Version int64
	Source  json.RawMessage
	// View names the view the document belongs to; it labels metrics and
	// names the dead-letter index.
	View string
	// Position is the source position the revision was derived from, kept
	// with a dead letter so it can be traced back to the change.
	Position string
	// DeadLetters is the index a refused revision is written to;
	// DeadLetterIndex(View) when empty.
	DeadLetters string
}

// deadLetterIndex is where a refusal of d goes.
func (d *Document) deadLetterIndex() string {
	if d.DeadLetters != "" {
		return d.DeadLetters
	}
	return DeadLetterIndex(d.viewLabel())
}

// isDelete reports whether the document is a delete.
func (d *Document) isDelete() bool { return d.Source == nil }

// viewLabel names the view in metrics and dead letters; a document
// without a view is known by its index.
func (d *Document) viewLabel() string {
	if d.View != "" {
		return d.View
	}
	return d.Index
}

// actionOverhead approximates the bytes of a bulk action line around
// the index name and id.
const actionOverhead = 96

// cost is what a document weighs against the writer's buffer limit.
func (d *Document) cost() int64 {
	return int64(len(d.Index) + len(d.ID) + len(d.Source) + actionOverhead)
}

// validate rejects documents that no writer could place anywhere, not
// even in a dead-letter index: they are a caller's mistake. A document
// without an id is a fault of the data, and is dead-lettered when sent.
func (d *Document) validate() error {
	switch {
	case d.Index == "":
		return errors.New("document without an index")
	case d.Version < 0:
		return fmt.Errorf("document %s/%s: version %d is negative", d.Index, d.ID, d.Version)
	}
	return nil
}

// laneOf picks the lane of a document from its index and id, so every
// revision of one document is written by the same lane, in order.
func laneOf(seed maphash.Seed, d *Document, lanes int) int {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(d.Index)
	h.WriteByte(0)
	h.WriteString(d.ID)
	return int(h.Sum64() % uint64(lanes))
}
