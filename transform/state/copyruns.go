package state

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A copy batch (Store.NewCopyBatch) keeps the rows, join index entries and
// pending marks of a group of snapshot rows in memory, sorts them at
// commit and hands them to the storage engine as sorted tables (ingested
// sstables) instead of writing them through its log and memtable. A row
// of a snapshot is written once and seldom changed soon after: through
// the memtable it was inserted into a skiplist, logged, flushed to level
// 0 and then compacted down level by level, each time read and rewritten.
// An ingested table whose keys overlap nothing already stored is placed
// directly in the last level, and the rows of a table copied in key order
// (the physical order of most tables) come in such runs.
//
// Why the log can be skipped: a copy batch is used only for a group made
// of snapshot rows alone (no snapshot's start, no snapshot's end). Until
// the closing transaction of its snapshot is committed, a crash starts
// the snapshot over: the source's checkpoint still says the snapshot is
// not done, and the new snapshot's first transaction removes every row
// of the source (Reset), these included. So these writes need neither the
// log nor to be atomic with the checkpoint the group also writes (which
// goes through the batch, after the ingest). An ingested table is durable
// once ingested, before any later write.

// copyRuns are a copy batch's writes, one run per disjoint key range:
// the rows of one table, the join index entries of one table, and the
// pending marks. Each run becomes one table, and the tables of one ingest
// must not overlap.
type copyRuns struct {
	rows    map[TableID]*run
	index   map[TableID]*run
	pending run
}

func newCopyRuns() *copyRuns {
	return &copyRuns{rows: map[TableID]*run{}, index: map[TableID]*run{}}
}

// run is a list of writes in the order they were made; keys and values
// share one buffer, so a write costs no allocation of its own.
type run struct {
	buf     []byte
	entries []runEntry
}

// runEntry is a write: the key is buf[start:mid], the value buf[mid:end].
type runEntry struct{ start, mid, end int }

func (r *run) set(k, v []byte) {
	start := len(r.buf)
	r.buf = append(r.buf, k...)
	mid := len(r.buf)
	r.buf = append(r.buf, v...)
	r.entries = append(r.entries, runEntry{start: start, mid: mid, end: len(r.buf)})
}

func (r *run) key(e runEntry) []byte   { return r.buf[e.start:e.mid] }
func (r *run) value(e runEntry) []byte { return r.buf[e.mid:e.end] }

// sorted returns the run's writes in key order, the last write of each
// key alone. It reorders the run's own list: the run is written once.
func (r *run) sorted() []runEntry {
	es := r.entries
	slices.SortStableFunc(es, func(a, b runEntry) int { return bytes.Compare(r.key(a), r.key(b)) })
	out := es[:0]
	for i, e := range es {
		if i+1 < len(es) && bytes.Equal(r.key(e), r.key(es[i+1])) {
			continue // a later write of the same key follows
		}
		out = append(out, e)
	}
	return out
}

// each calls fn with every run that holds writes.
func (c *copyRuns) each(fn func(*run) error) error {
	for _, r := range c.rows {
		if len(r.entries) == 0 {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	for _, r := range c.index {
		if len(r.entries) == 0 {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if len(c.pending.entries) > 0 {
		return fn(&c.pending)
	}
	return nil
}

// reset empties every run and keeps its memory for the next copy batch:
// a snapshot's groups are alike.
func (c *copyRuns) reset() {
	for _, r := range c.rows {
		r.buf, r.entries = r.buf[:0], r.entries[:0]
	}
	for _, r := range c.index {
		r.buf, r.entries = r.buf[:0], r.entries[:0]
	}
	c.pending.buf, c.pending.entries = c.pending.buf[:0], c.pending.entries[:0]
}

func runOf(m map[TableID]*run, t TableID) *run {
	r := m[t]
	if r == nil {
		r = &run{}
		m[t] = r
	}
	return r
}

// ingestDir is where the tables of copy batches are written before the
// storage engine takes them in; it is emptied when the store opens.
const ingestDir = "ingest"

// ingest writes each run as a sorted table and has the storage engine
// take them all in at once.
func (s *Store) ingest(runs *copyRuns) error {
	dir := s.fs.PathJoin(s.dir, ingestDir)
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	var paths []string
	removeAll := func() {
		for _, p := range paths {
			s.fs.Remove(p) //nolint:errcheck // not ingested; removed again when the store opens
		}
	}
	err := runs.each(func(r *run) error {
		s.ingested++
		path := s.fs.PathJoin(dir, strconv.FormatUint(s.ingested, 10)+".sst")
		paths = append(paths, path)
		return s.writeTable(path, r)
	})
	if err != nil {
		removeAll()
		return err
	}
	if len(paths) == 0 {
		return nil
	}
	// On success the storage engine has linked the tables into its own
	// directory and removed these paths.
	if err := s.db.Ingest(context.Background(), paths); err != nil {
		removeAll()
		return fmt.Errorf("ingest %d sorted tables: %w", len(paths), err)
	}
	return nil
}

// writeTable writes a run's writes, in key order, to a new table at path.
func (s *Store) writeTable(path string, r *run) error {
	f, err := s.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("create sorted table %s: %w", path, err)
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), s.opts.MakeWriterOptions(0, s.db.TableFormat()))
	for _, e := range r.sorted() {
		if err := w.Set(r.key(e), r.value(e)); err != nil {
			w.Close() //nolint:errcheck // the write error is the one to report
			return fmt.Errorf("write sorted table %s: %w", path, err)
		}
	}
	if err := w.Close(); err != nil { // syncs the file
		return fmt.Errorf("write sorted table %s: %w", path, err)
	}
	return nil
}

// clearIngestDir removes the tables a crash left before they were
// ingested.
func clearIngestDir(fs vfs.FS, dir string) error {
	if err := fs.RemoveAll(fs.PathJoin(dir, ingestDir)); err != nil {
		return fmt.Errorf("remove unfinished sorted tables: %w", err)
	}
	return nil
}
