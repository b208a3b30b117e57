package capture

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// WatermarkPrefix is the prefix of the logical decoding messages that
// bracket a chunk of a chunked snapshot (see chunker). Other consumers of
// the database's WAL can ignore messages with it.
const WatermarkPrefix = "projector.snapshot.watermark"

// watermark is the content of a watermark message: which chunk of which
// slot's snapshot it opens (low) or closes (high). The slot name tells
// apart the watermarks of two sources on one database; the run tells apart
// those of an earlier process, whose chunks no one waits for any more.
type watermark struct {
	Slot  string `json:"slot"`
	Run   string `json:"run"`
	Chunk int64  `json:"chunk"`
	High  bool   `json:"high"`
	Table string `json:"table"`
}

// chunkID names one chunk of a chunked snapshot within a process.
type chunkID struct {
	run   string
	chunk int64
}

// chunkResult is what the stream did with a chunk at its high watermark.
type chunkResult struct {
	// at is the EndLSN of the transaction that carried the chunk's rows:
	// once it is confirmed, the chunk is durable downstream.
	at LSN
	// delivered is how many of the chunk's rows were delivered, the others
	// having been changed by the stream inside the window.
	delivered int
	// retry says the window met a change it could not match to a key (a
	// row without its key columns): the chunk must be copied again.
	retry bool
}

// window is the stream's side of the DBLog watermark algorithm. Between a
// chunk's low and high watermarks it remembers the keys of the chunk's
// table that the stream changed; at the high watermark it adds the chunk's
// rows, except those keys, to the watermark's transaction: a changed row's
// stream event, which the engine applied first, is newer than the copied
// row, which may have been read before or after it. Rows whose key did not
// change in the window are the same at the high watermark as when read,
// so they are delivered as of it. One chunk is open at a time.
//
// The stream's goroutine calls observe; the chunker's calls open and fill.
type window struct {
	slot string

	mu sync.Mutex
	// id is the chunk the chunker opened, and table, key its table and
	// the columns its rows are matched by.
	id    chunkID
	table Table
	key   []string
	// recording says keys are being recorded: from when the chunk is
	// opened, before its low watermark is written (see observe). active
	// says the low watermark of id was seen in the stream.
	recording, active bool
	// changed holds the encoded keys changed since the low watermark;
	// truncated that the table was truncated, which voids every row read.
	changed keySet
	// previous holds the keys recorded for the table's previous chunk:
	// they are left out of this one too (see observe).
	previous  keySet
	truncated bool
	unmatched bool
	// rows and weight are the chunk's rows once read, filled says they are.
	rows   []Change
	weight int64
	filled bool
	// done hears the result at the high watermark.
	done chan chunkResult
	// last is the chunk most recently attached, and what was attached: a
	// watermark's transaction decoded again after a reconnect gets the same
	// rows, since the first delivery may not have reached downstream.
	last       chunkID
	lastRows   []Change
	lastWeight int64
}

func newWindow(slot string) *window { return &window{slot: slot} }

// open starts watching for chunk id of table, whose rows are told apart by
// key. The result arrives on the returned channel at the high watermark.
func (w *window) open(id chunkID, table Table, key []string) <-chan chunkResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.recording || w.table != table {
		// Keys changed since the table's previous chunk was delivered are
		// kept: they count for this chunk too.
		w.changed, w.previous, w.truncated, w.unmatched = newKeySet(), keySet{}, false, false
	}
	w.id, w.table, w.key = id, table, key
	w.recording, w.active, w.filled = true, false, false
	w.rows, w.weight = nil, 0
	w.done = make(chan chunkResult, 1)
	return w.done
}

// fill hands the window the chunk's rows, read between its watermarks.
func (w *window) fill(id chunkID, rows []Change, weight int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.id != id {
		return
	}
	w.rows, w.weight, w.filled = rows, weight, true
}

// close forgets the open chunk, when the chunker gives it up.
func (w *window) close(id chunkID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.id == id {
		w.id, w.recording, w.active, w.changed, w.previous, w.rows, w.done = chunkID{}, false, false, keySet{}, keySet{}, nil, nil
	}
}

// stop ends recording once the table's last chunk is delivered.
func (w *window) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.id == (chunkID{}) {
		w.recording, w.changed, w.previous = false, keySet{}, keySet{}
	}
}

// observe looks at a decoded transaction before it goes downstream:
// it records the keys the open chunk must leave out and, at the chunk's
// high watermark, adds the chunk's rows to txn.
//
// Keys are recorded from the moment the table's first chunk is opened,
// before its low watermark is even written, and on between its chunks,
// and a chunk also leaves out the keys recorded for the one before it,
// not only those changed between its own watermarks: a
// transaction's commit record can precede the low watermark in the WAL
// while the transaction is still invisible to the chunk's SELECT (a
// committing backend writes its commit record before it leaves the
// process array). Leaving out the key of a row the stream changed
// before the SELECT is safe: the stream's event carries the row as the
// SELECT would have read it.
func (w *window) observe(txn *Transaction) {
	if len(txn.Messages) == 0 {
		w.mu.Lock()
		if w.recording {
			w.record(txn.Changes)
		}
		w.mu.Unlock()
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.recording {
		w.record(txn.Changes)
	}
	for _, m := range txn.Messages {
		if m.Prefix != WatermarkPrefix {
			continue
		}
		var mark watermark
		if err := json.Unmarshal(m.Content, &mark); err != nil || mark.Slot != w.slot {
			continue // another source's, or not one projector wrote
		}
		id := chunkID{run: mark.Run, chunk: mark.Chunk}
		switch {
		case mark.High && id == w.last && id != w.id:
			// Decoded again after a reconnect: attach the same rows.
			txn.Changes = append(txn.Changes, w.lastRows...)
			txn.Bytes += w.lastWeight
		case id != w.id:
			// A chunk no one waits for: an earlier process's, or one the
			// chunker gave up on.
		case !mark.High:
			if !w.active {
				w.active = true
			}
		case mark.High && w.active && w.filled:
			w.attach(txn)
		}
	}
}

// keySet is a set of encoded keys, each with the TOASTed columns the
// chunk's copy of the row must fill in (see unsent). The columns are kept
// apart for the few keys that have any, so that a window recording every
// key of a huge transaction costs no more than the keys.
type keySet struct {
	keys map[string]struct{}
	fill map[string][]string
}

func newKeySet() keySet { return keySet{keys: map[string]struct{}{}, fill: map[string][]string{}} }

// mark adds k, with the columns left to fill in.
func (s keySet) mark(k string, fill []string) {
	s.keys[k] = struct{}{}
	if len(fill) > 0 {
		s.fill[k] = fill
	} else {
		delete(s.fill, k)
	}
}

// get reports whether k is in the set, and its columns left to fill in.
func (s keySet) get(k string) ([]string, bool) {
	if _, ok := s.keys[k]; !ok {
		return nil, false
	}
	return s.fill[k], true
}

// unsent is what is left to fill in from a chunk's copy of a row after
// c, a change of its key (c.New's), given what was left before it (seen
// says any change of the key was recorded): the TOASTed columns that
// every recorded change of the key left unchanged, which pgoutput does not
// resend. The chunk's row holds their value: it was read after recording
// began, and a change of such a column would have sent the new value.
// The engine holds every other column, from the changes it applied. Nil
// when nothing is left: a change sent every column (an insert), or the
// row was deleted.
func unsent(before []string, seen bool, c *Change) []string {
	if c.Op != Update || len(c.Unchanged) == 0 {
		return nil
	}
	if !seen {
		return c.Unchanged
	}
	var left []string
	for _, col := range before {
		if slices.Contains(c.Unchanged, col) {
			left = append(left, col)
		}
	}
	return left
}

// record notes the keys of the open chunk's table that changes touch.
func (w *window) record(changes []Change) {
	for i := range changes {
		c := &changes[i]
		if c.Table != w.table {
			continue
		}
		if c.Op == Truncate {
			w.truncated = true
			continue
		}
		var oldKey, newKey string
		if c.Old != nil {
			k, ok := encodeChunkKey(w.key, c.Old)
			if !ok {
				w.unmatched = true
				continue
			}
			oldKey = k
		}
		if c.New != nil {
			k, ok := encodeChunkKey(w.key, c.New)
			if !ok {
				w.unmatched = true
				continue
			}
			newKey = k
		}
		if c.Old != nil && (c.New == nil || oldKey != newKey) {
			// A delete, or a moved row: nothing is left under the old key,
			// and the new key's row is not the one a chunk read.
			w.changed.mark(oldKey, nil)
			if c.New != nil {
				w.changed.mark(newKey, nil)
			}
			continue
		}
		if c.New == nil {
			continue
		}
		k := newKey
		before, seen := w.changed.get(k)
		if !seen {
			before, seen = w.previous.get(k)
		}
		w.changed.mark(k, unsent(before, seen, c))
	}
}

// attach adds the chunk's rows whose keys the stream left alone to txn,
// the high watermark's transaction, and tells the chunker.
func (w *window) attach(txn *Transaction) {
	res := chunkResult{at: txn.EndLSN}
	var kept []Change
	switch {
	case w.unmatched:
		res.retry = true
	case w.truncated:
	case len(w.changed.keys) == 0 && len(w.previous.keys) == 0:
		// The stream changed no row of the table since recording began:
		// every row is kept, with no key to encode.
		kept = w.rows
	default:
		kept = w.rows[:0]
		for _, c := range w.rows {
			k, ok := encodeChunkKey(w.key, c.New)
			if !ok {
				continue
			}
			fill, changed := w.changed.get(k)
			if !changed {
				fill, changed = w.previous.get(k)
			}
			switch {
			case !changed:
				kept = append(kept, c)
			case len(fill) > 0:
				// The stream's row wins but lacks TOASTed values it did
				// not resend: the chunk's row has them.
				kept = append(kept, filled(c, fill))
			}
		}
	}
	weight := w.weight
	if len(w.rows) > 0 {
		weight = w.weight * int64(len(kept)) / int64(len(w.rows))
	}
	txn.Changes = append(txn.Changes, kept...)
	txn.Bytes += weight
	res.delivered = len(kept)
	w.last, w.lastRows, w.lastWeight = w.id, kept, weight
	w.done <- res
	// Recording goes on until the next chunk of the table opens: a change
	// between two chunks counts for the next one.
	w.id, w.active, w.rows, w.done = chunkID{}, false, nil, nil
	w.previous, w.changed, w.truncated, w.unmatched = w.changed, newKeySet(), false, false
}

// filled is an update of the chunk's row setting only its key and the
// columns fill, and leaving every other column as the engine holds it,
// from the stream's changes: those are newer than the chunk's copy.
func filled(copied Change, fill []string) Change {
	row := make(Row, len(copied.Key)+len(fill))
	for _, col := range copied.Key {
		row[col] = copied.New[col]
	}
	for _, col := range fill {
		if v, ok := copied.New[col]; ok {
			row[col] = v
		}
	}
	var unchanged []string
	for col := range copied.New {
		if _, ok := row[col]; !ok {
			unchanged = append(unchanged, col)
		}
	}
	slices.Sort(unchanged)
	return Change{Op: Update, Table: copied.Table, Key: copied.Key, New: row, Unchanged: unchanged}
}

// encodeChunkKey encodes the values of key in row, and false when row
// lacks one of them.
func encodeChunkKey(key []string, row Row) (string, bool) {
	vals := make([]any, len(key))
	for i, k := range key {
		v, ok := row[k]
		if !ok {
			return "", false
		}
		vals[i] = v
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return fmt.Sprint(vals), true
	}
	return string(b), true
}
