package transform

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform/state"
)

// applier applies a group of transactions to one state batch and
// collects the documents the changes affect. Reads go through the batch, so
// later changes in a group see the earlier ones.
type applier struct {
	plan  *plan
	b     *state.Batch
	dirty map[state.DocRef]struct{}
	// rootCopying reports whether a view's documents wait for a snapshot
	// that may still copy its root table (Engine.rootCopying).
	rootCopying func(v *View) bool
	// copying is set while a snapshot transaction is applied: its source's
	// rows were all removed when the snapshot began and each key is copied
	// once, so there is never a previous row to read.
	copying bool
	// copied is the room the rows of a snapshot transaction are projected
	// into, one after the other: such a row is written, indexed and marked
	// and then dropped (the row cache does not keep copied rows), so the
	// next one reuses it instead of allocating.
	copied *state.Row
	// checkpoints holds each source's checkpoint as the group advances it;
	// only the last one is written, once, with the group.
	checkpoints map[string]capture.Checkpoint
	// deadLetters are the dead letters of events that failed to fold.
	deadLetters []sink.Document
	// folded keeps the entity states the group folded (fold_apply.go).
	folded map[state.TableID]map[string]foldedState
}

// checkpoint is what the store and the group so far have applied of source.
func (a *applier) checkpoint(source string) (capture.Checkpoint, error) {
	if cp, ok := a.checkpoints[source]; ok {
		return cp, nil
	}
	cp, err := a.b.Checkpoint(source)
	if err != nil {
		return cp, err
	}
	a.checkpoints[source] = cp
	return cp, nil
}

func (a *applier) apply(source string, ev *capture.Change) error {
	tp := a.plan.tables[state.TableID{Source: source, Table: ev.Table}]
	if tp == nil {
		return nil // a table no view uses
	}
	switch ev.Op {
	case capture.Truncate:
		return a.b.ScanRows(tp.id, func(pk string) error { return a.remove(tp, pk) })
	case capture.Delete:
		pk, err := encodeKey(tp.key, ev.Old)
		if err != nil {
			return fmt.Errorf("delete from %s: %w", ev.Table, err)
		}
		return a.remove(tp, pk)
	default:
		return a.upsert(tp, ev)
	}
}

func (a *applier) upsert(tp *tablePlan, ev *capture.Change) error {
	return a.upsertOver(tp, ev, nil, false)
}

// upsertOver is upsert with the row's previous version already known
// (known; nil when there is none) instead of read from the store. Such a
// version needs only the key and the indexed columns, which are all that
// place a row in documents; ev must then have no unchanged values.
func (a *applier) upsertOver(tp *tablePlan, ev *capture.Change, old *state.Row, known bool) error {
	pk, err := encodeKey(tp.key, ev.New)
	if err != nil {
		return fmt.Errorf("%s into %s: %w", ev.Op, ev.Table, err)
	}
	// A table without join indexes is only ever found by its key, so its
	// previous version places it in no other document; it is needed only
	// for the TOASTed values an update did not send again.
	if !known && !a.copying && (len(tp.indexes) > 0 || len(ev.Unchanged) > 0) {
		if old, err = a.b.Row(tp.id, pk); err != nil {
			return err
		}
	}
	moved := false
	if ev.Op == capture.Update && ev.Old != nil {
		// A changed primary key arrives as an update whose old key differs.
		if oldPK, err := encodeKey(tp.key, ev.Old); err == nil && oldPK != pk {
			prev, err := a.b.Row(tp.id, oldPK)
			if err != nil {
				return err
			}
			if old == nil {
				old, moved = prev, true
			}
			if err := a.remove(tp, oldPK); err != nil {
				return err
			}
		}
	}
	var into *state.Row
	if a.copying {
		if a.copied == nil {
			a.copied = state.NewRow(8)
		}
		into = a.copied
	}
	return a.upsertRow(tp, pk, project(tp, ev.New, ev.Unchanged, old, into), old, moved)
}

// upsertRow writes row, projected already, under key pk over its previous
// version old (nil when there is none; moved when it was another key's),
// moves its index entries when a join column changed, and marks the
// documents it is embedded in.
func (a *applier) upsertRow(tp *tablePlan, pk string, row, old *state.Row, moved bool) error {
	if old != nil && !moved && sameJoins(tp, old, row) {
		// Most updates change no join column: the row's index entries
		// stay, and it is embedded in the same documents as before.
		if err := a.setRow(tp, pk, row); err != nil {
			return err
		}
		return a.markAffected(tp, row, pk)
	}
	if old != nil {
		if err := a.markAffected(tp, old, pk); err != nil {
			return err
		}
		if err := a.writeIndexes(tp, old, pk, true); err != nil {
			return err
		}
	}
	if err := a.setRow(tp, pk, row); err != nil {
		return err
	}
	if err := a.writeIndexes(tp, row, pk, false); err != nil {
		return err
	}
	return a.markAffected(tp, row, pk)
}

// sameJoins reports whether two versions of a row (same key) agree on
// every indexed column. Every column that places a row in a document is
// indexed or part of the key, so such rows are embedded in the same
// documents and have the same index entries.
func sameJoins(tp *tablePlan, old, row *state.Row) bool {
	for _, cols := range tp.indexes {
		for _, c := range cols {
			ov, oldOK := old.Value(c)
			nv, newOK := row.Value(c)
			if oldOK != newOK || ov != nv {
				return false
			}
		}
	}
	return true
}

func (a *applier) remove(tp *tablePlan, pk string) error {
	old, err := a.b.Row(tp.id, pk)
	if err != nil || old == nil {
		return err
	}
	if err := a.markAffected(tp, old, pk); err != nil {
		return err
	}
	if err := a.writeIndexes(tp, old, pk, true); err != nil {
		return err
	}
	return a.b.DeleteRow(tp.id, pk)
}

// setRow writes a row's new version to the batch.
func (a *applier) setRow(tp *tablePlan, pk string, row *state.Row) error {
	return a.b.SetRow(tp.id, pk, row, a.copying)
}

// removeSource forgets every row of a source, marking what they affected:
// a re-bootstrapped source starts from its new snapshot alone.
func (a *applier) removeSource(source string) error {
	for id, tp := range a.plan.tables {
		if id.Source != source {
			continue
		}
		if err := a.b.ScanRows(id, func(pk string) error { return a.remove(tp, pk) }); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) writeIndexes(tp *tablePlan, row *state.Row, pk string, del bool) error {
	for _, cols := range tp.indexes {
		vals, ok := joinValues(row, cols)
		if !ok {
			continue // NULL joins nothing
		}
		var err error
		if del {
			err = a.b.RemoveIndex(tp.id, cols, vals, pk)
		} else {
			err = a.b.AddIndex(tp.id, cols, vals, pk)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// markAffected marks every document that embeds row, in every view and
// at every depth, by walking up the view trees through the join indexes.
func (a *applier) markAffected(tp *tablePlan, row *state.Row, pk string) error {
	for _, pl := range tp.nodes {
		if pl.node.parent == nil {
			// The row is a root: it marks its own document, and
			// nothing need be looked up (nor a slice made, for every
			// row a snapshot copies).
			a.dirty[state.DocRef{View: pl.view.Name, ID: pk}] = struct{}{}
			continue
		}
		if a.rootCopying(pl.view) {
			continue
		}
		if err := a.ascend(pl.view, pl.node, []*state.Row{row}, []string{pk}); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) ascend(v *View, n *Node, rows []*state.Row, pks []string) error {
	if n.parent == nil {
		for _, pk := range pks {
			a.dirty[state.DocRef{View: v.Name, ID: pk}] = struct{}{}
		}
		return nil
	}
	parent := n.parent
	seen := map[string]bool{}
	var parentPKs []string
	for _, row := range rows {
		vals, ok := joinValues(row, n.relatedCols())
		if !ok {
			continue
		}
		found, err := a.find(parent, n.parentCols(), vals)
		if err != nil {
			return err
		}
		for _, pk := range found {
			if !seen[pk] {
				seen[pk] = true
				parentPKs = append(parentPKs, pk)
			}
		}
	}
	if parent.parent == nil {
		return a.ascend(v, parent, nil, parentPKs)
	}
	parentRows := make([]*state.Row, 0, len(parentPKs))
	for _, pk := range parentPKs {
		r, err := a.b.Row(parent.id(), pk)
		if err != nil {
			return err
		}
		if r != nil {
			parentRows = append(parentRows, r)
		}
	}
	return a.ascend(v, parent, parentRows, parentPKs)
}

// find returns the primary keys of the rows of n's table whose cols equal
// vals: through the join index, or, when cols are the table's key, by
// reading the one row they name.
func (a *applier) find(n *Node, cols []string, vals string) ([]string, error) {
	if !slices.Equal(cols, n.Key) {
		return a.b.Lookup(n.id(), cols, vals)
	}
	row, err := a.b.Row(n.id(), vals)
	if err != nil || row == nil {
		return nil, err
	}
	return []string{vals}, nil
}

// project keeps the columns the views need, in document form. TOASTed
// columns the update did not resend keep their previous value. With into,
// the row is written into into's columns, reusing their room.
func project(tp *tablePlan, after capture.Row, unchanged []string, old *state.Row, into *state.Row) *state.Row {
	// The values are rendered into one buffer, made one string: one
	// allocation for all of them.
	type span struct {
		name       string
		start, end int
		numeric    bool
	}
	var room [16]span // most tables: no allocation
	spans := room[:0]
	var values [256]byte // most rows: the string below is the one allocation
	buf := values[:0]
	if tp.allColumns {
		for col, v := range after {
			start := len(buf)
			buf = appendJSON(buf, v)
			spans = append(spans, span{name: col, start: start, end: len(buf), numeric: isNumeric(v)})
		}
	} else {
		// In name order: the row needs no sorting.
		for _, col := range tp.sorted {
			v, ok := after[col]
			if !ok {
				continue
			}
			start := len(buf)
			buf = appendJSON(buf, v)
			spans = append(spans, span{name: col, start: start, end: len(buf), numeric: isNumeric(v)})
		}
	}
	all := string(buf)
	row := into
	if row == nil {
		row = state.NewRow(len(spans) + len(unchanged))
	} else {
		row.Cols = row.Cols[:0]
	}
	for _, sp := range spans {
		row.Cols = append(row.Cols, state.Column{Name: sp.name, Value: all[sp.start:sp.end], Numeric: sp.numeric})
	}
	if old != nil {
		for _, col := range unchanged {
			if prev, ok := old.Value(col); ok && tp.stores(col) {
				row.Cols = append(row.Cols, state.Column{Name: col, Value: prev, Numeric: old.IsNumeric(col)})
			}
		}
	}
	if tp.allColumns || len(row.Cols) > len(spans) {
		row.SortColumns()
	}
	return row
}

// encodeKey renders a row's key columns as the JSON array used in store
// keys and, through docID, as document IDs.
func encodeKey(cols []string, row capture.Row) (string, error) {
	if row == nil {
		return "", fmt.Errorf("no row values for key %v", cols)
	}
	var room [64]byte // most keys: the string is the one allocation
	b := append(room[:0], '[')
	for i, c := range cols {
		v, ok := row[c]
		if !ok || v == nil {
			return "", fmt.Errorf("key column %s is missing", c)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSON(b, v)
	}
	return string(append(b, ']')), nil
}

// joinValues renders a stored row's join columns like encodeKey does; a
// NULL or absent column joins nothing.
func joinValues(row *state.Row, cols []string) (string, bool) {
	var room [64]byte // most values: the string is the one allocation
	b := append(room[:0], '[')
	for i, c := range cols {
		raw, ok := row.Value(c)
		if !ok || raw == "null" {
			return "", false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, raw...)
	}
	return string(append(b, ']')), true
}

// docID turns a stored key into the document _id (see DocID).
func docID(pk string) string {
	if id, ok := singleInteger(pk); ok {
		return id // most keys: no JSON decoding
	}
	if s, ok := singleString(pk); ok {
		return DocID([]string{s}) // an entity's, and other text keys
	}
	parts, err := KeyParts([]byte(pk))
	if err != nil {
		// Stored keys are written by encodeKey and always read; should
		// one not, it still gets a valid id of its own.
		parts = []string{pk}
	}
	return DocID(parts)
}

// withKeyField adds KeyField to a document whose id is a hash of its key
// pk, so that the key is not lost with the id.
func withKeyField(src []byte, id, pk string) []byte {
	if src == nil || !IsHashedID(id) {
		return src
	}
	out := make([]byte, 0, len(src)+len(KeyField)+len(pk)+4)
	out = append(out, '{')
	out = appendString(out, KeyField)
	out = append(out, ':')
	out = append(out, pk...)
	if rest := src[1:]; len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, src[1:]...)
}

// singleString returns the string of a key of one string in the form
// encodeKey writes it (`["a-1"]`) when the string needs no decoding: no
// escape, no control character, valid UTF-8, so that it is what
// KeyParts gives.
func singleString(pk string) (string, bool) {
	if len(pk) < 4 || pk[0] != '[' || pk[1] != '"' || pk[len(pk)-2] != '"' || pk[len(pk)-1] != ']' {
		return "", false
	}
	s := pk[2 : len(pk)-2]
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	return s, utf8.ValidString(s)
}

// singleInteger returns the integer of a key of one integer in the form
// encodeKey writes it ("[-12]").
func singleInteger(pk string) (string, bool) {
	if len(pk) < 3 || pk[0] != '[' || pk[len(pk)-1] != ']' {
		return "", false
	}
	n := pk[1 : len(pk)-1]
	digits := strings.TrimPrefix(n, "-")
	if digits == "" || (digits[0] == '0' && len(n) > 1) {
		return "", false // empty, or a leading zero, or "-0": not encodeKey's form
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", false
		}
	}
	return n, true
}
