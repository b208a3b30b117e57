package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/lograte"
)

// Store is projector's durable local state: the columns the views need of
// every captured row, reverse indexes over join columns, each source's
// applied position and the documents not yet acknowledged by the index.
// All of a group of transactions is committed in one atomic batch, so
// state, positions and pending documents never disagree after a crash; the
// log is synced before any position a group reached is confirmed to its
// source, so a group lost in a crash is one the source sends again.
type Store struct {
	db     *pebble.DB
	cols   *columnSets
	health *storeHealth
	// rows caches decoded rows for the batches and readers of the
	// engine's goroutine, the only one that reads and writes rows.
	rows *rowCache
	// checkpoints are the sources' committed checkpoints.
	checkpoints *checkpoints
	// dir, fs and opts are where and how copy batches write the sorted
	// tables they ingest (copyruns.go); ingested numbers those tables.
	dir      string
	fs       vfs.FS
	opts     *pebble.Options
	ingested uint64
	// spareRuns are the emptied runs of the last copy batch, kept for the
	// next one.
	spareRuns *copyRuns
}

// Key spaces. Parts are separated by 0x00, which JSON-encoded values and
// identifiers never contain; row and index keys end in key values in
// their store form (appendKeyValue), which delimits itself.
const (
	spaceRow        = "r"
	spaceIndex      = "x"
	spaceCheckpoint = "c"
	spaceDirty      = "d"
	spaceMeta       = "m"
)

// Open opens (creating if needed) the store in dir. The storage
// engine's own messages go to log: its routine chatter at debug level, its
// errors as errors, each kind at most once per storeWarnEvery. A write
// failure of its background work on a full or broken file system is kept
// as Err, which stops the engine.
func Open(dir string, log *slog.Logger) (*Store, error) {
	return open(dir, log, nil)
}

// open is Open on a given file system; nil is the operating system's.
func open(dir string, log *slog.Logger, fs vfs.FS) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if fs == nil {
		fs = vfs.Default
	}
	engineLog := log.With("component", "state")
	health := newStoreHealth(dir, fs, engineLog)
	opts := storeOptions(storeLogger{log: engineLog, limit: health.limit})
	opts.EventListener = &pebble.EventListener{BackgroundError: health.backgroundError}
	opts.FS = watchedFS{FS: fs, health: health}
	opts.EnsureDefaults() // copy batches write tables with these options
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open state store %s: %w", dir, err)
	}
	// Under the store's lock: no other process is writing these.
	if err := clearIngestDir(opts.FS, dir); err != nil {
		db.Close() //nolint:errcheck // the removal error is the one to report
		return nil, fmt.Errorf("open state store %s: %w", dir, err)
	}
	cols, err := loadColumnSets(db)
	if err != nil {
		db.Close() //nolint:errcheck // the read error is the one to report
		return nil, fmt.Errorf("open state store %s: read column lists: %w", dir, err)
	}
	if err := migrateKeyForm(db, log); err != nil {
		db.Close() //nolint:errcheck // the migration error is the one to report
		return nil, fmt.Errorf("open state store %s: %w", dir, err)
	}
	return &Store{db: db, cols: cols, health: health, rows: newRowCache(rowCacheSize), checkpoints: newCheckpoints(),
		dir: dir, fs: opts.FS, opts: opts}, nil
}

// corruptState is the error for state that cannot be read, with the way
// out: projector rebuilds a lost state from new snapshots.
func corruptState(format string, args ...any) error {
	return fmt.Errorf(format+": the state is corrupt; remove the state directory to rebuild it with a new snapshot", args...)
}

// storeOptions tunes pebble for how projector reads: every change looks
// its row up, usually missing during a snapshot, and every document reads
// several rows. Bloom filters answer most misses without touching a
// table's blocks; a block cache bigger than the default 8 MB keeps the
// index blocks and the hot rows decoded.
func storeOptions(log storeLogger) *pebble.Options {
	opts := &pebble.Options{
		Logger:                      log,
		CacheSize:                   storeCacheSize,
		MemTableSize:                storeMemTableSize,
		MemTableStopWritesThreshold: storeMemTables,
	}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	// Most of what projector writes is read back little (rows, index
	// entries, short-lived pending marks): letting level 0 collect twice
	// the default files and the first level four times the bytes before
	// compacting rewrites the data fewer times. Point reads barely notice,
	// the bloom filters answer for most files. Measured: 7% less CPU for a
	// snapshot, 15% more changes per second under a saturating write load.
	opts.L0CompactionThreshold = 8
	opts.L0StopWritesThreshold = 32
	opts.LBaseMaxBytes = 256 << 20
	// Level 0 files stay at the default 2 MB, so a flush (16 MiB of rows,
	// join index entries and pending marks, all over the key space) is
	// split into several files, each over a narrow key range. A compaction
	// can then take the level 0 files of one range and rewrite only the
	// files below that overlap it; one file per flush overlapped them all.
	// Measured at 1,000,000 orders: compactions wrote 262 MB instead of
	// 730 MB, and the snapshot took 50.9 CPU s instead of 57.1.
	opts.TargetFileSizes[0] = 2 << 20
	return opts
}

// The store's memory: its block cache, up to storeMemTables memtables (one
// taking writes, the others being flushed) and its row cache.
const (
	storeCacheSize    = 48 << 20
	storeMemTableSize = 16 << 20
	storeMemTables    = 2
	rowCacheSize      = 8 << 20
)

// Memory is the most memory projector's local state takes: the store's
// block cache, memtables and row cache, for sizing the process's memory
// budget.
const Memory = storeCacheSize + storeMemTables*storeMemTableSize + rowCacheSize

// Close flushes and closes the store.
func (s *Store) Close() error { return s.db.Close() }

func key(space string, parts ...string) []byte {
	var b bytes.Buffer
	b.WriteString(space)
	for _, p := range parts {
		b.WriteByte(0)
		b.WriteString(p)
	}
	return b.Bytes()
}

// prefixEnd is the first key after every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func get(rd pebble.Reader, k []byte) ([]byte, bool, error) {
	v, closer, err := rd.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := bytes.Clone(v)
	return out, true, closer.Close()
}

// appendRowKey appends the key of t's row pk to b.
func appendRowKey(b []byte, t TableID, pk string) []byte {
	return appendKeyValue(appendRowPrefix(b, t), pk)
}

// appendRowPrefix appends the prefix of the keys of t's rows.
func appendRowPrefix(b []byte, t TableID) []byte {
	return append(appendTable(b, spaceRow, t), 0)
}

// appendTable appends the start of t's keys in space: the space, the
// source and the table, separated by 0x00.
func appendTable(b []byte, space string, t TableID) []byte {
	b = append(b, space...)
	b = append(append(b, 0), t.Source...)
	b = append(append(b, 0), t.Table.Schema...)
	return append(append(b, '.'), t.Table.Name...)
}

// appendIndexPrefix appends to b the key prefix of the index entries of the
// rows of t whose cols equal vals.
func appendIndexPrefix(b []byte, t TableID, cols []string, vals string) []byte {
	return append(appendKeyValue(appendIndexColumns(b, t, cols), vals), 0)
}

// appendIndexColumns appends to b the key prefix of every entry of t's
// join index over cols.
func appendIndexColumns(b []byte, t TableID, cols []string) []byte {
	b = append(appendTable(b, spaceIndex, t), 0, '[')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, c...)
	}
	return append(b, ']', 0)
}

// scanRows calls fn with the primary key of every stored row of t.
func scanRows(rd pebble.Reader, t TableID, fn func(pk string) error) error {
	// The keys are read first and the iterator closed, so that fn may
	// write to the batch the reader belongs to.
	pks, _, err := rowKeys(rd, t, "", 0)
	if err != nil {
		return err
	}
	for _, pk := range pks {
		if err := fn(pk); err != nil {
			return err
		}
	}
	return nil
}

// Checkpoint returns what the store has applied of a source.
func (s *Store) Checkpoint(source string) (capture.Checkpoint, error) {
	return s.checkpoints.read(s.db, source)
}

func readCheckpoint(rd pebble.Reader, source string) (capture.Checkpoint, error) {
	var cp capture.Checkpoint
	v, ok, err := get(rd, key(spaceCheckpoint, source))
	if err != nil || !ok {
		return cp, err
	}
	if err := json.Unmarshal(v, &cp); err != nil {
		return cp, fmt.Errorf("checkpoint of source %q is corrupt: %w", source, err)
	}
	return cp, nil
}

func writeCheckpoint(b pebble.Writer, source string, cp capture.Checkpoint) error {
	v, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	return b.Set(key(spaceCheckpoint, source), v, nil)
}

// ResetSource forgets what was applied of source, so that its capture
// starts over with a new slot and a new snapshot. The rows already stored
// stay until the new snapshot's first transaction replaces them, so
// documents keep their content meanwhile.
func (s *Store) ResetSource(source string) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := writeCheckpoint(b, source, capture.Checkpoint{}); err != nil {
		return fmt.Errorf("reset checkpoint of source %q: %w", source, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("reset checkpoint of source %q: %w", source, err)
	}
	s.checkpoints.committed(map[string]capture.Checkpoint{source: {}})
	return nil
}

// storeLogger passes the storage engine's messages to slog. Its errors
// repeat as fast as it retries, so each kind is logged once per
// storeWarnEvery when limit is set.
type storeLogger struct {
	log   *slog.Logger
	limit *lograte.Limiter
}

func (l storeLogger) Infof(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }

func (l storeLogger) Errorf(format string, args ...any) {
	if l.limit == nil {
		l.log.Error(fmt.Sprintf(format, args...))
		return
	}
	l.limit.Log(l.log, slog.LevelError, "errorf:"+format, fmt.Sprintf(format, args...))
}

// Fatalf is called on corruption the storage engine cannot continue from;
// like its default logger, it ends the process, but says why first.
func (l storeLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
	os.Exit(1)
}

// Walk calls fn with every key and value the store holds, in key order,
// for format tests and diagnostics: the stored form is a contract with
// every state directory already written. The slices are valid during the
// call only.
func (s *Store) Walk(fn func(key, value []byte) error) error {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close() //nolint:errcheck // fn's error is the one to report
			return err
		}
	}
	return it.Close()
}
