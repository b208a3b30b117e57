package transform

import (
	"encoding/json"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// buildDoc renders the document of view v for the root row pk from the
// store, or returns nil when the root row no longer exists.
func buildDoc(rd pebble.Reader, v *View, pk string) (json.RawMessage, error) {
	row, err := readRow(rd, v.Root.id(), pk)
	if err != nil || row == nil {
		return nil, err
	}
	return writeNode(make([]byte, 0, 512), rd, v, v.Root, row)
}

func writeNode(b []byte, rd pebble.Reader, v *View, n *Node, row *storedRow) ([]byte, error) {
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
		if b, err = writeRelation(b, rd, v, c, row); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// writeRelation embeds the rows of c that join row: an array for has_many,
// otherwise the first related row (in key order) or null.
func writeRelation(b []byte, rd pebble.Reader, v *View, c *Node, row *storedRow) ([]byte, error) {
	var pks []string
	if vals, ok := joinValues(row, c.parentCols()); ok {
		var err error
		if pks, err = lookup(rd, c.id(), c.relatedCols(), vals); err != nil {
			return nil, err
		}
		sortKeys(pks)
	}
	if c.Kind == HasMany {
		b = append(b, '[')
	}
	written := 0
	for _, pk := range pks {
		child, err := readRow(rd, c.id(), pk)
		if err != nil {
			return nil, err
		}
		if child == nil {
			continue
		}
		if written > 0 {
			b = append(b, ',')
		}
		if b, err = writeNode(b, rd, v, c, child); err != nil {
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
