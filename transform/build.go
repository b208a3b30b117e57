package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// docBuilder renders documents from one consistent view of the store. It
// keeps one iterator for every join lookup and one per table for reading
// rows, for all the documents it builds: opening an iterator (or a point
// read, which opens one inside) per lookup cost more than the lookup
// itself, and documents built in key order read rows nearly in order.
type docBuilder struct {
	rd     pebble.Reader
	it     *pebble.Iterator
	rows   map[tableID]*pebble.Iterator
	prefix []byte
}

func newDocBuilder(rd pebble.Reader) *docBuilder { return &docBuilder{rd: rd} }

// close releases the builder's iterators.
func (d *docBuilder) close() error {
	var errs []error
	if d.it != nil {
		errs = append(errs, d.it.Close())
		d.it = nil
	}
	for t, it := range d.rows {
		errs = append(errs, it.Close())
		delete(d.rows, t)
	}
	return errors.Join(errs...)
}

// row reads one stored row, or nil when there is none.
func (d *docBuilder) row(t tableID, pk string) (*storedRow, error) {
	it := d.rows[t]
	if it == nil {
		if d.rows == nil { // not needed by a builder used for lookups only
			d.rows = map[tableID]*pebble.Iterator{}
		}
		prefix := append(key(spaceRow, t.source, t.table.String()), 0)
		var err error
		if it, err = d.rd.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)}); err != nil {
			return nil, err
		}
		d.rows[t] = it
	}
	k := rowKey(t, pk)
	if !it.SeekGE(k) || !bytes.Equal(it.Key(), k) {
		return nil, it.Error()
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, fmt.Errorf("read %s row %s: %w", t.table, pk, err)
	}
	r, err := decodeRow(bytes.Clone(v))
	if err != nil {
		return nil, fmt.Errorf("state of %s row %s is corrupt: %w", t.table, pk, err)
	}
	return r, nil
}

// build renders the document of view v for the root row pk, or returns
// nil when the root row no longer exists.
func (d *docBuilder) build(v *View, pk string) (json.RawMessage, error) {
	row, err := d.row(v.Root.id(), pk)
	if err != nil || row == nil {
		return nil, err
	}
	return d.writeNode(make([]byte, 0, 512), v, v.Root, row)
}

// lookup returns the primary keys of the rows of t whose cols equal vals,
// in key order.
func (d *docBuilder) lookup(t tableID, cols []string, vals string) ([]string, error) {
	d.prefix = appendIndexPrefix(d.prefix[:0], t, cols, vals)
	upper := prefixEnd(d.prefix)
	if d.it == nil {
		it, err := d.rd.NewIter(&pebble.IterOptions{LowerBound: d.prefix, UpperBound: upper})
		if err != nil {
			return nil, err
		}
		d.it = it
	} else {
		d.it.SetBounds(d.prefix, upper)
	}
	var pks []string
	for d.it.First(); d.it.Valid(); d.it.Next() {
		pks = append(pks, string(d.it.Key()[len(d.prefix):]))
	}
	if err := d.it.Error(); err != nil {
		return nil, fmt.Errorf("look up %s by %v: %w", t.table, cols, err)
	}
	return pks, nil
}

func (d *docBuilder) writeNode(b []byte, v *View, n *Node, row *storedRow) ([]byte, error) {
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
		raw, ok := row.Values[f.Column]
		switch {
		case !ok:
			raw = json.RawMessage("null")
		case v.NumericAsNumber && row.isNumeric(f.Column):
			raw = numberForm(raw)
		}
		b = append(b, raw...)
	}
	for _, c := range n.Children {
		field(c.Name)
		var err error
		if b, err = d.writeRelation(b, v, c, row); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// writeRelation embeds the rows of c that join row: an array for has_many,
// otherwise the first related row (in key order) or null.
func (d *docBuilder) writeRelation(b []byte, v *View, c *Node, row *storedRow) ([]byte, error) {
	var pks []string
	if vals, ok := joinValues(row, c.parentCols()); ok {
		var err error
		if slices.Equal(c.relatedCols(), c.Key) {
			pks = []string{vals} // the key names the row; a missing one is skipped below
		} else if pks, err = d.lookup(c.id(), c.relatedCols(), vals); err != nil {
			return nil, err
		}
		sortKeys(pks)
	}
	if c.Kind == HasMany {
		b = append(b, '[')
	}
	written := 0
	for _, pk := range pks {
		child, err := d.row(c.id(), pk)
		if err != nil {
			return nil, err
		}
		if child == nil {
			continue
		}
		if written > 0 {
			b = append(b, ',')
		}
		if b, err = d.writeNode(b, v, c, child); err != nil {
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
func fieldsOf(n *Node, row *storedRow) []Field {
	if !n.AllFields {
		return n.Fields
	}
	fields := make([]Field, 0, len(row.Values))
	for col := range row.Values {
		fields = append(fields, Field{Column: col, Name: col})
	}
	slices.SortFunc(fields, func(a, b Field) int {
		if a.Column < b.Column {
			return -1
		}
		if a.Column > b.Column {
			return 1
		}
		return 0
	})
	return fields
}
