package state

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Reader reads stored rows and join lookups through iterators it keeps,
// one per table for rows and one for the join indexes: opening an
// iterator per read (as a point read does inside) costs more than the read
// itself.
//
// Over an indexed batch that is still being written (live), every read
// first refreshes its iterator's view of the batch, so it sees the writes
// made since, and rows are read with prefix seeks, which let the bloom
// filters answer for keys that do not exist (every insert looks its row
// up first). Over a snapshot, rows and join lookups are read in a merge
// scan: documents built in the order of their root rows read the root
// table, a has_many relation's index entries and, mostly, its rows in key
// order too, so each iterator steps forward from where the last read left
// it (seekGE) instead of seeking through every level of the store.
type Reader struct {
	rd     pebble.Reader
	snap   *pebble.Snapshot // closed with the reader, when it reads one
	cols   *columnSets      // the column lists of the rows rd holds
	live   bool
	cache  *rowCache // nil: every row is read from rd
	fill   bool      // rows read from rd are added to cache
	rows   map[TableID]*rowIter
	index  *pebble.Iterator
	bounds pebble.IterOptions // the index iterator's, kept while it uses them
	// indexes are, over a snapshot, the iterators over whole join
	// indexes, by the key prefix of the index's entries (table and
	// columns), so that lookups in key order step through them.
	indexes map[string]*rowIter
	scratch []byte // index prefixes of the lookups over a snapshot
	// prefixes are two buffers for the index bounds, used in turn: the
	// iterator may compare its new bounds with the ones it had, so those
	// must stay unchanged until it has the new ones.
	prefixes [2][]byte
	turn     int
	keys     [2][]byte // row keys, used in turn like prefixes
	keyTurn  int
}

// rowIter is the iterator over one table's rows, or over a join index,
// with the bounds it was made with: a live refresh passes them again.
type rowIter struct {
	it   *pebble.Iterator
	opts pebble.IterOptions
	// at is, over a snapshot, the key the iterator was last positioned
	// for: it is at the first key at or after at, or exhausted when there
	// is none. nil when that is not known.
	at []byte
}

// forwardSteps is how many keys seekGE steps over before it seeks: a step
// is a comparison and a move in the store's merged iterator, a seek
// repositions every level of the store, which costs several times more.
const forwardSteps = 8

// seekGE positions the iterator at the first key at or after k, like
// SeekGE, and reports whether there is one. Over a snapshot nothing
// changes under the iterator, so when k is at or after the key it was last
// positioned for, and the iterator is not yet past k, the keys it steps
// over are exactly those before k: a key a few steps ahead, the next
// root row or child of a document built in key order, is reached by
// stepping, and one that is not is sought.
func (ri *rowIter) seekGE(k []byte) bool {
	if ri.at != nil && bytes.Compare(k, ri.at) >= 0 {
		for range forwardSteps {
			if !ri.it.Valid() {
				if ri.it.Error() != nil {
					break // seek again, which reports the error if it persists
				}
				ri.at = append(ri.at[:0], k...)
				return false // nothing at or after at, so nothing at or after k
			}
			if bytes.Compare(ri.it.Key(), k) >= 0 {
				ri.at = append(ri.at[:0], k...)
				return true
			}
			ri.it.Next()
		}
	}
	ri.at = append(ri.at[:0], k...)
	return ri.it.SeekGE(k)
}

// newReader reads rd, through cache when it is not nil: the cache must
// then agree with rd on every row it holds. With fill, the rows read from
// rd are added to the cache; a pass over many rows each read once (a
// snapshot's documents) would only push out the ones read again.
func newReader(rd pebble.Reader, cols *columnSets, cache *rowCache, fill bool) *Reader {
	return &Reader{rd: rd, cols: cols, cache: cache, fill: fill, rows: map[TableID]*rowIter{}}
}

// newLiveReader reads b, an indexed batch, as it is being written.
func newLiveReader(b *pebble.Batch, cols *columnSets, cache *rowCache) *Reader {
	r := newReader(b, cols, cache, true)
	r.live = true
	return r
}

// ReadMode says how a Reader uses the store's row cache.
type ReadMode int

const (
	// ReadCached answers from the cache and adds the rows it reads from the
	// store: streamed changes touch the same rows again soon.
	ReadCached ReadMode = iota
	// ReadThrough answers from the cache but adds nothing: a snapshot's
	// documents each read their rows once, and would only push out the
	// rows streaming reads again.
	ReadThrough
	// ReadUncached reads every row from the store.
	ReadUncached
)

// Snapshot returns a Reader of the state as committed now, however it
// changes while the reader is used. Close releases it. Only the engine's
// goroutine may read through the cache (ReadCached, ReadThrough).
func (s *Store) Snapshot(mode ReadMode) *Reader {
	snap := s.db.NewSnapshot()
	cache := s.rows
	if mode == ReadUncached {
		cache = nil
	}
	r := newReader(snap, s.cols, cache, mode == ReadCached)
	r.snap = snap
	return r
}

// Close releases the reader's iterators, and then the snapshot it reads.
func (r *Reader) Close() error {
	err := r.close()
	if r.snap != nil {
		err = errors.Join(err, r.snap.Close())
		r.snap = nil
	}
	return err
}

// close releases the reader's iterators; it must come before the batch or
// snapshot read is closed.
func (r *Reader) close() error {
	var errs []error
	if r.index != nil {
		errs = append(errs, r.index.Close())
		r.index = nil
	}
	for k, ix := range r.indexes {
		errs = append(errs, ix.it.Close())
		delete(r.indexes, k)
	}
	for t, ri := range r.rows {
		errs = append(errs, ri.it.Close())
		delete(r.rows, t)
	}
	return errors.Join(errs...)
}

// rowValue returns the stored form of a row, or nil when there is none.
// k is the row's key. The bytes are the storage engine's, valid until the
// reader's next read.
func (r *Reader) rowValue(t TableID, pk string, k []byte) ([]byte, error) {
	ri := r.rows[t]
	if ri == nil {
		prefix := appendRowPrefix(nil, t)
		ri = &rowIter{opts: pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)}}
		var err error
		if ri.it, err = r.rd.NewIter(&ri.opts); err != nil {
			return nil, fmt.Errorf("read %s rows: %w", t.Table, err)
		}
		r.rows[t] = ri
	} else if r.live {
		ri.it.SetOptions(&ri.opts)
	}
	var found bool
	if r.live {
		found = ri.it.SeekPrefixGE(k)
	} else {
		found = ri.seekGE(k)
	}
	found = found && bytes.Equal(ri.it.Key(), k)
	if !found {
		if err := ri.it.Error(); err != nil {
			return nil, fmt.Errorf("read %s row %s: %w", t.Table, pk, err)
		}
		return nil, nil
	}
	v, err := ri.it.ValueAndErr()
	if err != nil {
		return nil, fmt.Errorf("read %s row %s: %w", t.Table, pk, err)
	}
	return v, nil
}

// Row reads one stored row, or nil when there is none. pk is the row's
// primary key as a JSON array. The row may be shared through the cache: it
// must not be changed.
func (r *Reader) Row(t TableID, pk string) (*Row, error) {
	return r.RowInto(t, pk, nil)
}

// RowInto reads one stored row as Row does; when into is not nil and the
// row is not in the cache, the row is decoded into into, reusing its
// columns' room. Building a snapshot's documents read five rows per
// document and dropped each once rendered: one row per depth of the view,
// reused, spares an allocation per read. The row returned is into or a
// row shared through the cache; it must not be changed, and into holds it
// only until into is passed again. A reader that fills the cache decodes
// into a new row: the cache keeps it.
func (r *Reader) RowInto(t TableID, pk string, into *Row) (*Row, error) {
	// The key is built in one of two buffers used in turn: a seek may hold
	// on to its key until the next one.
	r.keyTurn = 1 - r.keyTurn
	k := appendRowKey(r.keys[r.keyTurn][:0], t, pk)
	r.keys[r.keyTurn] = k
	if row, ok := r.cache.get(k); ok {
		return row, nil
	}
	v, err := r.rowValue(t, pk, k)
	if err != nil || v == nil {
		return nil, err
	}
	if r.fill {
		into = nil
	}
	row, err := r.cols.decodeInto(v, into)
	if err != nil {
		return nil, fmt.Errorf("state of %s row %s is corrupt: %w", t.Table, pk, err)
	}
	if r.fill {
		r.cache.put(k, row)
	}
	return row, nil
}

// Lookup returns the primary keys of the rows of t whose cols equal vals
// (a JSON array, in the order of cols), in the store's key order: through
// the join index over cols, which the rows' writer keeps (Batch.AddIndex).
func (r *Reader) Lookup(t TableID, cols []string, vals string) ([]string, error) {
	return r.AppendLookup(nil, t, cols, vals)
}

// AppendLookup is Lookup appending the keys to pks, whose room a caller
// that looks up once per document built can reuse.
func (r *Reader) AppendLookup(pks []string, t TableID, cols []string, vals string) ([]string, error) {
	if !r.live {
		return r.scanLookup(pks, t, cols, vals)
	}
	r.turn = 1 - r.turn
	prefix := appendIndexPrefix(r.prefixes[r.turn][:0], t, cols, vals)
	r.prefixes[r.turn] = prefix
	r.bounds = pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)}
	switch {
	case r.index == nil:
		it, err := r.rd.NewIter(&r.bounds)
		if err != nil {
			return nil, err
		}
		r.index = it
	case r.live:
		r.index.SetOptions(&r.bounds)
	default:
		r.index.SetBounds(r.bounds.LowerBound, r.bounds.UpperBound)
	}
	for r.index.First(); r.index.Valid(); r.index.Next() {
		pk, ok := keyValue(r.index.Key()[len(prefix):])
		if !ok {
			return nil, corruptKey(r.index.Key())
		}
		pks = append(pks, pk)
	}
	if err := r.index.Error(); err != nil {
		return nil, fmt.Errorf("look up %s by %v: %w", t.Table, cols, err)
	}
	return pks, nil
}

// scanLookup is AppendLookup over a snapshot: through one iterator over the
// whole index of cols, which lookups in key order step through.
func (r *Reader) scanLookup(pks []string, t TableID, cols []string, vals string) ([]string, error) {
	r.scratch = appendIndexColumns(r.scratch[:0], t, cols)
	ix := r.indexes[string(r.scratch)]
	if ix == nil {
		lower := bytes.Clone(r.scratch)
		ix = &rowIter{opts: pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)}}
		var err error
		if ix.it, err = r.rd.NewIter(&ix.opts); err != nil {
			return nil, fmt.Errorf("look up %s by %v: %w", t.Table, cols, err)
		}
		if r.indexes == nil {
			r.indexes = map[string]*rowIter{}
		}
		r.indexes[string(lower)] = ix
	}
	prefix := append(appendKeyValue(r.scratch, vals), 0)
	r.scratch = prefix
	for ok := ix.seekGE(prefix); ok && bytes.HasPrefix(ix.it.Key(), prefix); ok = ix.it.Next() {
		pk, valid := keyValue(ix.it.Key()[len(prefix):])
		if !valid {
			ix.at = nil
			return nil, corruptKey(ix.it.Key())
		}
		pks = append(pks, pk)
	}
	if err := ix.it.Error(); err != nil {
		ix.at = nil
		return nil, fmt.Errorf("look up %s by %v: %w", t.Table, cols, err)
	}
	// The iterator is now at the first key after the entries of vals,
	// which is the first key at or after the end of their prefix: the
	// prefix ends in 0x00, and its end is the prefix ending in 0x01.
	ix.at = append(ix.at[:0], prefix...)
	ix.at[len(ix.at)-1] = 1
	return pks, nil
}
