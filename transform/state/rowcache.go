package state

// rowCache keeps decoded rows the engine read or wrote recently, so that
// an update finds its previous version, and a document the rows it was
// just built from, without a seek through the store's levels. The block
// cache cannot do this as well: a row is a few dozen bytes of a 4 KB
// block, and every compaction moves the rows it caches into blocks of new
// files, which start out uncached.
//
// It holds two generations of at most half the budget each. Entries go
// into the current one; a hit in the previous one is copied forward; when
// the current one is full, it becomes the previous one and the oldest is
// dropped whole. Rows used within the last half a budget of traffic stay.
//
// A nil cache holds nothing. The cache is exact, not a hint: every row a
// Batch writes or deletes passes through put and remove, and a batch
// closed without a commit drops the cache. Only the engine's goroutine
// uses it.
//
// Rows are found by their key in the store (appendRowKey): the reads that miss
// need it anyway, and one string hashes faster than the table's names and
// the primary key apart.
type rowCache struct {
	half      int // bytes per generation
	cur, prev map[string]*Row
	curBytes  int
}

// A cached row's bookkeeping beyond its names and values: the map entry
// and the row, and each column's slot in it.
const (
	rowEntryOverhead  = 96
	rowColumnOverhead = 40
)

func newRowCache(budget int) *rowCache {
	c := &rowCache{half: budget / 2}
	c.reset()
	return c
}

// reset forgets every row.
func (c *rowCache) reset() {
	c.cur, c.prev, c.curBytes = map[string]*Row{}, map[string]*Row{}, 0
}

// get returns the row stored under k, or false when the cache does not
// know it.
func (c *rowCache) get(k []byte) (*Row, bool) {
	if c == nil {
		return nil, false
	}
	if row, ok := c.cur[string(k)]; ok {
		return row, true
	}
	row, ok := c.prev[string(k)]
	if ok {
		c.add(string(k), row, rowSize(k, row))
	}
	return row, ok
}

// put records row as the current version of the row stored under k.
// Rows too big to be worth a share of the cache are forgotten instead.
func (c *rowCache) put(k []byte, row *Row) {
	if c == nil {
		return
	}
	size := rowSize(k, row)
	if size > c.half/32 {
		c.remove(k)
		return
	}
	c.add(string(k), row, size)
}

// remove forgets the row stored under k: it was deleted, or is too big to
// keep.
func (c *rowCache) remove(k []byte) {
	if c == nil {
		return
	}
	delete(c.cur, string(k))
	delete(c.prev, string(k))
}

func (c *rowCache) add(k string, row *Row, size int) {
	if c.curBytes+size > c.half {
		c.prev, c.cur, c.curBytes = c.cur, map[string]*Row{}, 0
	}
	c.cur[k] = row
	c.curBytes += size
}

// rowSize estimates a cached row's memory from its columns.
func rowSize(k []byte, row *Row) int {
	size := len(k) + rowEntryOverhead
	for _, col := range row.Cols {
		size += len(col.Name) + len(col.Value) + rowColumnOverhead
	}
	return size
}
