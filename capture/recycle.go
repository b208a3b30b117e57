package capture

// chunkRecycler keeps the changes of snapshot chunks downstream has
// applied, for the chunks copied after them: decoding a copied row into a
// map that already has room for its columns costs about half what a new
// map does, and the maps were most of what a snapshot allocated.
//
// A recycled chunk is a []Change of length 0 whose elements up to its
// capacity keep their rows, emptied. It holds at most a few chunks: what
// waits here is idle room, outside the memory budget, while a chunk's
// rows in flight are charged with its transaction as before. A chunk's
// weight counts its values, not the room of its maps, so a wide table's
// rows are not reused for a much narrower one's.
type chunkRecycler struct {
	free chan recycledChunk
}

// recycledChunk is an applied chunk's changes and how many columns its
// rows had.
type recycledChunk struct {
	changes []Change
	cols    int
}

// recycledChunks is how many applied chunks wait to be used again: the
// copy fetches the next chunk while the engine applies the last, so a
// couple keep it going.
const recycledChunks = 2

func newChunkRecycler() *chunkRecycler {
	return &chunkRecycler{free: make(chan recycledChunk, recycledChunks)}
}

// get returns a chunk to fill with rows of cols columns, or nil when none
// is waiting that fits. A chunk of rows more than twice as wide is
// dropped.
func (r *chunkRecycler) get(cols int) []Change {
	select {
	case c := <-r.free:
		if c.cols > 2*cols {
			return nil
		}
		return c.changes
	default:
		return nil
	}
}

// nextRow returns the row to decode the change appended next to changes
// into: the emptied row a recycled chunk has there, or a new one with room
// for cols columns.
func nextRow(changes []Change, cols int) Row {
	if n := len(changes); n < cap(changes) {
		if row := changes[:n+1][n].New; row != nil {
			return row
		}
	}
	return make(Row, cols)
}

// put keeps changes, whose rows it empties, for a later chunk; it drops
// them when enough wait already.
func (r *chunkRecycler) put(changes []Change) {
	cols := 0
	for i := range changes {
		cols = max(cols, len(changes[i].New))
		clear(changes[i].New)
		// Everything but the emptied row goes, so that nothing of the
		// applied chunk stays reachable from here.
		changes[i] = Change{New: changes[i].New}
	}
	select {
	case r.free <- recycledChunk{changes: changes[:0], cols: cols}:
	default:
	}
}

// Release tells capture that whoever applied the transaction is done with
// its changes: nothing holds on to a Change, a Row or the map itself, and
// nothing will read them again (the values in the rows may be kept; they
// are never written). The rows of a snapshot's copied chunks are then used
// again for the chunks after them; the transaction is left without
// changes. For any other transaction Release does nothing. Call it at
// most once, and only from the one consumer of the transaction.
func (t *Transaction) Release() {
	r := t.recycle
	if r == nil {
		return
	}
	t.recycle = nil
	changes := t.Changes
	t.Changes = nil
	r.put(changes)
}
