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
// length. Reading it back allocates one map and copies nothing, which
// matters because every document built reads several rows.
func encodeRow(r *storedRow) []byte {
	size := 2 + binary.MaxVarintLen64
	for col, v := range r.Values {
		size += len(col) + len(v) + 1 + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, size)
	b = append(b, rowFormat)
	b = binary.AppendUvarint(b, uint64(len(r.Values)))
	cols := make([]string, 0, len(r.Values))
	for col := range r.Values {
		cols = append(cols, col)
	}
	slices.Sort(cols) // the same row always encodes the same way
	for _, col := range cols {
		v := r.Values[col]
		b = binary.AppendUvarint(b, uint64(len(col)))
		b = append(b, col...)
		var numeric byte
		if r.isNumeric(col) {
			numeric = 1
		}
		b = append(b, numeric)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

var errCorruptRow = errors.New("malformed row")

// decodeRow reads a stored row; its values share b's memory.
func decodeRow(b []byte) (*storedRow, error) {
	if len(b) > 0 && b[0] == '{' {
		var r storedRow
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, err
		}
		return &r, nil
	}
	if len(b) == 0 || b[0] != rowFormat {
		return nil, errCorruptRow
	}
	b = b[1:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, errCorruptRow
	}
	b = b[w:]
	r := &storedRow{Values: make(map[string]json.RawMessage, n)}
	next := func() ([]byte, bool) {
		l, w := binary.Uvarint(b)
		if w <= 0 || l > uint64(len(b)-w) {
			return nil, false
		}
		field := b[w : w+int(l) : w+int(l)]
		b = b[w+int(l):]
		return field, true
	}
	for range n {
		col, ok := next()
		if !ok || len(b) == 0 {
			return nil, errCorruptRow
		}
		numeric := b[0]
		b = b[1:]
		v, ok := next()
		if !ok {
			return nil, errCorruptRow
		}
		name := string(col)
		r.Values[name] = v
		if numeric == 1 {
			r.Numeric = append(r.Numeric, name)
		}
	}
	if len(b) != 0 {
		return nil, errCorruptRow
	}
	return r, nil
}
