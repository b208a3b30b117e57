package transform

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/projector-dev/projector/transform/state"
)

// docBuilder renders documents from one consistent view of the store,
// reading it through one reader for all the documents it builds.
type docBuilder struct {
	*state.Reader
	// scratch is where documents are rendered, reused from one to the
	// next; each document is then copied out at its exact size. Rendered
	// into a buffer of its own, a document either grew it several times
	// or, small, kept several times its size: documents wait for the
	// index in the sink, whose budget counts their bytes, not the
	// buffers' capacity.
	scratch []byte
	// rows are where the rows being rendered are decoded, one per depth
	// of the view: a row is dropped once its object is written, so the
	// next row at its depth reuses its room instead of allocating.
	rows []*state.Row
	// keys are the keys of a relation's rows, one list per depth, reused
	// like rows.
	keys [][]string
}

// row reads the row pk of table t into the room kept for depth.
func (d *docBuilder) row(t state.TableID, pk string, depth int) (*state.Row, error) {
	for len(d.rows) <= depth {
		d.rows = append(d.rows, state.NewRow(8))
	}
	return d.RowInto(t, pk, d.rows[depth])
}

func newDocBuilder(rd *state.Reader) *docBuilder {
	return &docBuilder{Reader: rd}
}

// build renders the document of view v for the root row pk, or returns
// nil when the root row no longer exists.
func (d *docBuilder) build(v *View, pk string) (json.RawMessage, error) {
	row, err := d.row(v.Root.id(), pk, 0)
	if err != nil || row == nil {
		return nil, err
	}
	b, err := d.writeNode(d.scratch[:0], v, v.Root, row, 0)
	if err != nil {
		return nil, err
	}
	d.scratch = b
	return bytes.Clone(b), nil
}

// writeNode renders row, of node n at depth in the view, with its
// relations.
func (d *docBuilder) writeNode(b []byte, v *View, n *Node, row *state.Row, depth int) ([]byte, error) {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, name)
		b = append(b, ':')
	}
	for _, f := range fieldsOf(n, row) {
		field(f.Name)
		raw, ok := row.Value(f.Column)
		switch {
		case !ok:
			raw = "null"
		case v.NumericAsNumber && row.IsNumeric(f.Column):
			raw = numberForm(raw)
		}
		b = append(b, raw...)
	}
	for _, c := range n.Children {
		field(c.Name)
		var err error
		if b, err = d.writeRelation(b, v, c, row, depth+1); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// writeRelation embeds the rows of c that join row: an array for has_many,
// otherwise the first related row (in key order) or null. depth is c's.
func (d *docBuilder) writeRelation(b []byte, v *View, c *Node, row *state.Row, depth int) ([]byte, error) {
	for len(d.keys) <= depth {
		d.keys = append(d.keys, nil)
	}
	pks := d.keys[depth][:0]
	if vals, ok := joinValues(row, c.parentCols()); ok {
		var err error
		if slices.Equal(c.relatedCols(), c.Key) {
			pks = append(pks, vals) // the key names the row; a missing one is skipped below
		} else if pks, err = d.AppendLookup(pks, c.id(), c.relatedCols(), vals); err != nil {
			return nil, err
		}
		state.SortKeys(pks)
	}
	d.keys[depth] = pks
	if c.Kind == HasMany {
		b = append(b, '[')
	}
	written := 0
	for _, pk := range pks {
		child, err := d.row(c.id(), pk, depth)
		if err != nil {
			return nil, err
		}
		if child == nil {
			continue
		}
		if written > 0 {
			b = append(b, ',')
		}
		if b, err = d.writeNode(b, v, c, child, depth); err != nil {
			return nil, err
		}
		written++
		if c.Kind != HasMany {
			break
		}
	}
	switch {
	case c.Kind == HasMany:
		b = append(b, ']')
	case written == 0:
		b = append(b, "null"...)
	}
	return b, nil
}

// fieldsOf lists the fields a node shows; with all fields, every stored
// column in name order.
func fieldsOf(n *Node, row *state.Row) []Field {
	if !n.AllFields {
		return n.Fields
	}
	fields := make([]Field, 0, len(row.Cols))
	for _, c := range row.Cols {
		fields = append(fields, Field{Column: c.Name, Name: c.Name})
	}
	return fields
}
