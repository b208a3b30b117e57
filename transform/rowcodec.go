package transform

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
)

// rowFormat tags the binary form of a stored row. Rows written before it
// existed are JSON objects and start with '{'; they are still read.
const rowFormat = 0x01

// encodeRow is the stored form of a row: a tag, the column count, and per
// column its name, whether it is numeric and its JSON value, each with a
// length, in name order. Reading it back copies the row once and slices
// every name and value out of that copy.
func encodeRow(r *storedRow) []byte {
	size := 2 + binary.MaxVarintLen64
	for _, c := range r.cols {
		size += len(c.name) + len(c.value) + 1 + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, size)
	b = append(b, rowFormat)
	b = binary.AppendUvarint(b, uint64(len(r.cols)))
	for _, c := range r.cols {
		b = binary.AppendUvarint(b, uint64(len(c.name)))
		b = append(b, c.name...)
		var numeric byte
		if c.numeric {
			numeric = 1
		}
		b = append(b, numeric)
		b = binary.AppendUvarint(b, uint64(len(c.value)))
		b = append(b, c.value...)
	}
	return b
}

var errCorruptRow = errors.New("malformed row")

// jsonRow is how rows were stored before the binary form.
type jsonRow struct {
	Values  map[string]json.RawMessage `json:"v"`
	Numeric []string                   `json:"n,omitempty"`
}

// decodeRow reads a stored row. Its names and values share one copy of b.
func decodeRow(b []byte) (*storedRow, error) {
	if len(b) > 0 && b[0] == '{' {
		var old jsonRow
		if err := json.Unmarshal(b, &old); err != nil {
			return nil, err
		}
		r := &storedRow{cols: make([]storedColumn, 0, len(old.Values))}
		for name, v := range old.Values {
			r.cols = append(r.cols, storedColumn{name: name, value: string(v), numeric: slices.Contains(old.Numeric, name)})
		}
		r.sortColumns()
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
	r := &storedRow{cols: make([]storedColumn, 0, n)}
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
		r.cols = append(r.cols, storedColumn{name: name, value: v, numeric: numeric})
	}
	if pos != len(b) {
		return nil, errCorruptRow
	}
	return r, nil
}
