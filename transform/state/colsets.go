package state

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// columnSets numbers the column name lists of stored rows. A row is stored
// with the number of its list in place of the names, which took about a
// third of its bytes: fewer bytes to log, flush and compact, and more rows
// in every cached block. A store sees a few lists per table, one for each
// set of columns its views have used. Lists are made durable before a row
// that uses one is written, and never removed. Only the engine's goroutine
// uses them, as it does the row cache.
type columnSets struct {
	db      *pebble.DB
	names   [][]string        // list number - 1 → names, in name order
	numbers map[string]uint64 // names joined by 0x00 → list number
	joined  []byte            // where number joins the names it looks up
}

func columnSetKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(append(key(spaceMeta, "columns"), 0), n)
}

// loadColumnSets reads the lists db holds.
func loadColumnSets(db *pebble.DB) (*columnSets, error) {
	c := &columnSets{db: db, numbers: map[string]uint64{}}
	prefix := append(key(spaceMeta, "columns"), 0)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		num := it.Key()[len(prefix):]
		if len(num) != 8 || binary.BigEndian.Uint64(num) != uint64(len(c.names)+1) {
			return nil, corruptState("column list %x follows list %d", num, len(c.names))
		}
		c.add(string(it.Value()))
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	return c, nil
}

// add numbers the list joined, the names joined by 0x00.
func (c *columnSets) add(joined string) uint64 {
	var names []string
	if joined != "" {
		names = strings.Split(joined, "\x00")
	}
	c.names = append(c.names, names)
	n := uint64(len(c.names))
	c.numbers[joined] = n
	return n
}

// number returns the number of the list of cols' names, storing the list
// when it is new.
func (c *columnSets) number(cols []Column) (uint64, error) {
	c.joined = c.joined[:0]
	for i := range cols {
		if i > 0 {
			c.joined = append(c.joined, 0)
		}
		c.joined = append(c.joined, cols[i].Name...)
	}
	if n, ok := c.numbers[string(c.joined)]; ok {
		return n, nil
	}
	for i := range cols {
		if strings.IndexByte(cols[i].Name, 0) >= 0 {
			return 0, fmt.Errorf("column name %q holds a NUL byte", cols[i].Name)
		}
	}
	if err := c.db.Set(columnSetKey(uint64(len(c.names)+1)), c.joined, pebble.Sync); err != nil {
		return 0, fmt.Errorf("store column list %d: %w", len(c.names)+1, err)
	}
	return c.add(string(c.joined)), nil
}

// encode is the stored form of a row: rowSetFormat, the number of its
// column list, and per column whether it is numeric and its JSON value
// with its length.
func (c *columnSets) encode(r *Row) ([]byte, error) { return c.appendEncoded(nil, r) }

// appendEncoded appends the stored form of a row (see encode) to b: a
// batch encodes every row it writes into one buffer, which the storage
// engine copies.
func (c *columnSets) appendEncoded(b []byte, r *Row) ([]byte, error) {
	n, err := c.number(r.Cols)
	if err != nil {
		return nil, err
	}
	size := 1 + binary.MaxVarintLen64
	for i := range r.Cols {
		size += 1 + binary.MaxVarintLen64 + len(r.Cols[i].Value)
	}
	b = slices.Grow(b, size)
	b = append(b, rowSetFormat)
	b = binary.AppendUvarint(b, n)
	for i := range r.Cols {
		var numeric byte
		if r.Cols[i].Numeric {
			numeric = 1
		}
		b = append(b, numeric)
		b = binary.AppendUvarint(b, uint64(len(r.Cols[i].Value)))
		b = append(b, r.Cols[i].Value...)
	}
	return b, nil
}

// decode reads a stored row in any of the forms rows were stored in. Its
// values share one copy of b; its names are the list's.
func (c *columnSets) decode(b []byte) (*Row, error) { return c.decodeInto(b, nil) }

// decodeInto is decode writing the columns into into's, reusing their
// room, when into is not nil: a reader that drops each row once it has
// used it (a document being built) then allocates no row per read.
func (c *columnSets) decodeInto(b []byte, into *Row) (*Row, error) {
	if len(b) == 0 || b[0] != rowSetFormat {
		return decodeRow(b)
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 {
		return nil, errCorruptRow
	}
	if n == 0 || n > uint64(len(c.names)) {
		return nil, fmt.Errorf("%w: unknown column list %d", errCorruptRow, n)
	}
	names := c.names[n-1]
	pos := 1 + w
	s := string(b[pos:]) // the one copy: b may be the storage engine's memory
	b = b[pos:]
	pos = 0
	r := into
	if r == nil {
		r = NewRow(len(names))
	}
	r.Cols = slices.Grow(r.Cols[:0], len(names))[:len(names)]
	for i, name := range names {
		if pos >= len(b) {
			return nil, errCorruptRow
		}
		numeric := b[pos] == 1
		l, w := binary.Uvarint(b[pos+1:])
		if w <= 0 || l > uint64(len(b)-pos-1-w) {
			return nil, errCorruptRow
		}
		start := pos + 1 + w
		pos = start + int(l)
		r.Cols[i] = Column{Name: name, Value: s[start:pos], Numeric: numeric}
	}
	if pos != len(b) {
		return nil, errCorruptRow
	}
	return r, nil
}
