package transform

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// columnSets numbers the column name lists of stored rows. A row is stored
// with the number of its list in place of the names, which took about a
// third of its bytes: fewer bytes to log, flush and compact, and more rows
// in every cached block. A store sees a few lists per table, one for each
// set of columns its views have used. Lists are made durable before a row
// that uses one is written, and never removed.
type columnSets struct {
	db   *pebble.DB
	seed maphash.Seed
	mu   sync.Mutex                     // serialises additions
	list atomic.Pointer[columnSetTable] // read without the lock
}

// columnSetTable is one immutable version of the lists: an addition
// replaces it whole.
type columnSetTable struct {
	names  [][]string          // list number - 1 → names, in name order
	byHash map[uint64][]uint64 // hash of the names → list numbers
}

func columnSetKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(append(key(spaceMeta, "columns"), 0), n)
}

// loadColumnSets reads the lists db holds.
func loadColumnSets(db *pebble.DB) (*columnSets, error) {
	c := &columnSets{db: db, seed: maphash.MakeSeed()}
	t := &columnSetTable{byHash: map[uint64][]uint64{}}
	prefix := append(key(spaceMeta, "columns"), 0)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		num := it.Key()[len(prefix):]
		if len(num) != 8 || binary.BigEndian.Uint64(num) != uint64(len(t.names)+1) {
			return nil, fmt.Errorf("column list %x follows list %d: the state is corrupt; "+
				"remove the state directory to rebuild it with a new snapshot", num, len(t.names))
		}
		n := uint64(len(t.names) + 1)
		var names []string
		if len(it.Value()) > 0 {
			names = strings.Split(string(it.Value()), "\x00")
		}
		t.names = append(t.names, names)
		h := c.hashNames(names)
		t.byHash[h] = append(t.byHash[h], n)
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	c.list.Store(t)
	return c, nil
}

func (c *columnSets) hashNames(names []string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	for _, n := range names {
		h.WriteString(n)
		h.WriteByte(0)
	}
	return h.Sum64()
}

func (c *columnSets) hashColumns(cols []storedColumn) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	for i := range cols {
		h.WriteString(cols[i].name)
		h.WriteByte(0)
	}
	return h.Sum64()
}

func sameNames(names []string, cols []storedColumn) bool {
	if len(names) != len(cols) {
		return false
	}
	for i := range cols {
		if names[i] != cols[i].name {
			return false
		}
	}
	return true
}

// number returns the number of the list of cols' names, adding the list
// when it is new.
func (c *columnSets) number(cols []storedColumn) (uint64, error) {
	h := c.hashColumns(cols)
	if n, ok := c.find(c.list.Load(), h, cols); ok {
		return n, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.list.Load()
	if n, ok := c.find(t, h, cols); ok {
		return n, nil
	}
	names := make([]string, len(cols))
	for i := range cols {
		names[i] = strings.Clone(cols[i].name)
		if strings.IndexByte(names[i], 0) >= 0 {
			return 0, fmt.Errorf("column name %q holds a NUL byte", names[i])
		}
	}
	n := uint64(len(t.names) + 1)
	if err := c.db.Set(columnSetKey(n), []byte(strings.Join(names, "\x00")), pebble.Sync); err != nil {
		return 0, fmt.Errorf("store column list %d: %w", n, err)
	}
	next := &columnSetTable{names: append(t.names[:len(t.names):len(t.names)], names), byHash: make(map[uint64][]uint64, len(t.byHash)+1)}
	for k, v := range t.byHash {
		next.byHash[k] = v
	}
	next.byHash[h] = append(next.byHash[h][:len(next.byHash[h]):len(next.byHash[h])], n)
	c.list.Store(next)
	return n, nil
}

func (c *columnSets) find(t *columnSetTable, h uint64, cols []storedColumn) (uint64, bool) {
	for _, n := range t.byHash[h] {
		if sameNames(t.names[n-1], cols) {
			return n, true
		}
	}
	return 0, false
}

// names returns list n.
func (c *columnSets) names(n uint64) ([]string, bool) {
	t := c.list.Load()
	if n == 0 || n > uint64(len(t.names)) {
		return nil, false
	}
	return t.names[n-1], true
}

// encode is the stored form of a row: rowSetFormat, the number of its
// column list, and per column whether it is numeric and its JSON value
// with its length.
func (c *columnSets) encode(r *storedRow) ([]byte, error) {
	n, err := c.number(r.cols)
	if err != nil {
		return nil, err
	}
	size := 1 + binary.MaxVarintLen64
	for i := range r.cols {
		size += 1 + binary.MaxVarintLen64 + len(r.cols[i].value)
	}
	b := make([]byte, 0, size)
	b = append(b, rowSetFormat)
	b = binary.AppendUvarint(b, n)
	for i := range r.cols {
		var numeric byte
		if r.cols[i].numeric {
			numeric = 1
		}
		b = append(b, numeric)
		b = binary.AppendUvarint(b, uint64(len(r.cols[i].value)))
		b = append(b, r.cols[i].value...)
	}
	return b, nil
}

// decode reads a stored row in any of the forms rows were stored in. Its
// values share one copy of b; its names are the list's.
func (c *columnSets) decode(b []byte) (*storedRow, error) {
	if len(b) == 0 || b[0] != rowSetFormat {
		return decodeRow(b)
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 {
		return nil, errCorruptRow
	}
	names, ok := c.names(n)
	if !ok {
		return nil, fmt.Errorf("%w: unknown column list %d", errCorruptRow, n)
	}
	pos := 1 + w
	s := string(b[pos:]) // the one copy: b may be the storage engine's memory
	b = b[pos:]
	pos = 0
	r := &storedRow{cols: make([]storedColumn, len(names))}
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
		r.cols[i] = storedColumn{name: name, value: s[start:pos], numeric: numeric}
	}
	if pos != len(b) {
		return nil, errCorruptRow
	}
	return r, nil
}
