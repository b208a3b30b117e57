package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
)

// Stored row forms, told apart by their first byte. Rows are written in
// rowSetFormat (see columnSets); the earlier forms are still read:
// rowFormat carries each column's name, and the first rows were JSON
// objects, which start with '{'.
const (
	rowFormat    = 0x01
	rowSetFormat = 0x02
)

var errCorruptRow = errors.New("malformed row")

// jsonRow is how rows were stored before the binary form.
type jsonRow struct {
	Values  map[string]json.RawMessage `json:"v"`
	Numeric []string                   `json:"n,omitempty"`
}

// decodeRow reads a row stored in a form from before column lists. Its
// names and values share one copy of b.
func decodeRow(b []byte) (*Row, error) {
	if len(b) > 0 && b[0] == '{' {
		var old jsonRow
		if err := json.Unmarshal(b, &old); err != nil {
			return nil, err
		}
		r := &Row{Cols: make([]Column, 0, len(old.Values))}
		for name, v := range old.Values {
			r.Cols = append(r.Cols, Column{Name: name, Value: string(v), Numeric: slices.Contains(old.Numeric, name)})
		}
		r.SortColumns()
		return r, nil
	}
	if len(b) == 0 || b[0] != rowFormat {
		return nil, errCorruptRow
	}
	s := string(b) // the one copy: b may be the storage engine's memory
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || n > uint64(len(b)) {
		return nil, errCorruptRow
	}
	pos := 1 + w
	next := func() (string, bool) {
		l, w := binary.Uvarint(b[pos:])
		if w <= 0 || l > uint64(len(b)-pos-w) {
			return "", false
		}
		start := pos + w
		pos = start + int(l)
		return s[start:pos], true
	}
	r := &Row{Cols: make([]Column, 0, n)}
	for range n {
		name, ok := next()
		if !ok || pos >= len(b) {
			return nil, errCorruptRow
		}
		numeric := b[pos] == 1
		pos++
		v, ok := next()
		if !ok {
			return nil, errCorruptRow
		}
		r.Cols = append(r.Cols, Column{Name: name, Value: v, Numeric: numeric})
	}
	if pos != len(b) {
		return nil, errCorruptRow
	}
	return r, nil
}
