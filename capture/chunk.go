package capture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// SnapshotMode says how a source's initial snapshot is taken.
type SnapshotMode string

const (
	// SnapshotAuto takes a chunked snapshot when the source's tables hold
	// more than ChunkOptions.AutoRows rows by the server's estimate, and an
	// exported one otherwise.
	SnapshotAuto SnapshotMode = "auto"
	// SnapshotExported copies every table in one transaction on the
	// snapshot the slot's creation exports, before streaming starts: the
	// fastest way, with every document built once, but a crash starts it
	// over and the slot holds WAL for the whole copy.
	SnapshotExported SnapshotMode = "exported"
	// SnapshotChunked starts streaming at once and copies the tables in
	// key order, a chunk at a time, between watermarks in the stream: a
	// restart resumes after the last chunk applied, and the slot keeps
	// advancing while the copy runs.
	SnapshotChunked SnapshotMode = "chunked"
)

// DefaultChunkRows is ChunkOptions.Rows when unset.
const DefaultChunkRows = 5000

// DefaultAutoChunkedRows is ChunkOptions.AutoRows when unset: sources
// estimated larger than this take a chunked snapshot in auto mode.
const DefaultAutoChunkedRows = 1_000_000

// ChunkOptions tunes chunked snapshots.
type ChunkOptions struct {
	// Mode picks the kind of initial snapshot; SnapshotAuto when empty.
	Mode SnapshotMode
	// Rows is how many rows one chunk copies: one chunk is held in memory
	// at a time. 5,000 when 0.
	Rows int
	// AutoRows is the estimated size above which auto mode copies in
	// chunks; DefaultAutoChunkedRows when 0.
	AutoRows int64
	// Progress, when set, durably keeps how far each table's chunked copy
	// is, so that a restart resumes it after the last chunk applied.
	Progress ChunkProgressStore
}

// TableProgress is how far a table's chunked copy is.
type TableProgress struct {
	Table Table `json:"table"`
	// LastKey is the key, in its columns' text forms, of the last row of
	// the last chunk applied; empty before the first.
	LastKey []string `json:"last_key,omitempty"`
	// Rows counts the rows copied, Chunks the chunks.
	Rows   int64 `json:"rows"`
	Chunks int64 `json:"chunks"`
	// Estimate is the server's estimate of the table's rows.
	Estimate int64 `json:"estimate"`
	// Done says the table is copied completely.
	Done bool `json:"done,omitempty"`
	// Requested says SnapshotTables queued the copy while the source
	// streamed (an ad-hoc re-snapshot), rather than the source's initial
	// snapshot: the views already hold the table, so the daemon stays
	// ready while it runs.
	Requested bool `json:"requested,omitempty"`
}

// ChunkProgressStore keeps a source's chunked snapshot progress. Writes
// are durable when they return.
type ChunkProgressStore interface {
	ChunkProgress() ([]TableProgress, error)
	SetChunkProgress([]TableProgress) error
}

// chunker copies a running source's tables in chunks, with the window
// (see window) deciding in the stream which copied rows are delivered.
// Stream.Run owns its goroutine.
type chunker struct {
	s   *Stream
	win *window
	run string // tells this process's watermarks from an earlier one's

	mu       sync.Mutex
	loaded   bool
	progress []TableProgress
	// wake hears that tables were queued; reset is closed when a new
	// snapshot plan replaces the one being copied.
	wake  chan struct{}
	reset chan struct{}
	next  int64
	// long holds the transactions a chunk waited for in vain (see
	// settleCommits); only the chunker's goroutine uses it.
	long map[uint64]bool
	// bootstrapping is set while the source's snapshot starts: an
	// exported snapshot's whole copy, or a chunked one's first step.
	bootstrapping atomic.Bool
}

func newChunker(s *Stream) *chunker {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand); a clash only confuses watermarks of one slot across processes
	return &chunker{s: s, win: newWindow(s.src.SlotName()), run: hex.EncodeToString(b[:]),
		wake: make(chan struct{}, 1), reset: make(chan struct{}), long: map[uint64]bool{}}
}

func (c *chunker) opts() ChunkOptions { return c.s.opts.Chunks }

// SnapshotTables queues tables of the running source for a chunked copy:
// their rows are copied again, in key order, while the stream runs, and
// delivered as upserts. A table already queued starts over. Tables must be
// among the source's tables. The queue is durable, so a restart continues
// it.
func (s *Stream) SnapshotTables(tables ...Table) error {
	for _, t := range tables {
		if !slices.Contains(s.src.Tables, t) {
			return fmt.Errorf("snapshot %s of source %q: the source does not capture that table", t, s.src.Name)
		}
	}
	c := s.chunks
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.loadLocked(); err != nil {
		return err
	}
	next := slices.Clone(c.progress)
	for _, t := range tables {
		// A table the initial snapshot has not copied yet stays part of
		// it: the views do not hold it until that copy ends.
		initial := slices.ContainsFunc(next, func(p TableProgress) bool { return p.Table == t && !p.Done && !p.Requested })
		next = slices.DeleteFunc(next, func(p TableProgress) bool { return p.Table == t })
		next = append(next, TableProgress{Table: t, Requested: !initial})
	}
	if err := c.saveLocked(next); err != nil {
		return err
	}
	c.notify()
	return nil
}

// Bootstrapping reports whether the source's initial snapshot is being
// started: for an exported snapshot, while its tables are copied.
func (s *Stream) Bootstrapping() bool { return s.chunks.bootstrapping.Load() }

// exporting marks the bootstrap as running and returns what ends it.
func (c *chunker) exporting() (done func()) {
	c.bootstrapping.Store(true)
	return func() { c.bootstrapping.Store(false) }
}

// ChunkProgress returns the progress of the source's chunked copies.
func (s *Stream) ChunkProgress() ([]TableProgress, error) {
	c := s.chunks
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.loadLocked(); err != nil {
		return nil, err
	}
	return slices.Clone(c.progress), nil
}

// plan replaces the queue with tables, as a new snapshot of the source
// begins: nil when it is exported, which copies everything itself.
func (c *chunker) plan(tables []Table) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make([]TableProgress, 0, len(tables))
	for _, t := range tables {
		next = append(next, TableProgress{Table: t})
	}
	if err := c.saveLocked(next); err != nil {
		return err
	}
	c.loaded = true
	close(c.reset)
	c.reset = make(chan struct{})
	c.notify()
	return nil
}

func (c *chunker) notify() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *chunker) loadLocked() error {
	if c.loaded {
		return nil
	}
	if store := c.opts().Progress; store != nil {
		p, err := store.ChunkProgress()
		if err != nil {
			return fmt.Errorf("read chunked snapshot progress of source %q: %w", c.s.src.Name, err)
		}
		c.progress = p
	}
	c.loaded = true
	for _, p := range c.progress {
		c.s.metrics.chunkProgress(c.s.src.Name, p)
	}
	return nil
}

func (c *chunker) saveLocked(next []TableProgress) error {
	if store := c.opts().Progress; store != nil {
		if err := store.SetChunkProgress(next); err != nil {
			return permanent(fmt.Errorf("record chunked snapshot progress of source %q: %w", c.s.src.Name, err))
		}
	}
	c.progress = next
	for _, p := range next {
		c.s.metrics.chunkProgress(c.s.src.Name, p)
	}
	return nil
}

// update records p as the progress of its table, unless a new plan
// replaced the table's entry since gen was taken.
func (c *chunker) update(gen chan struct{}, p TableProgress) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.reset {
		return nil
	}
	next := slices.Clone(c.progress)
	i := slices.IndexFunc(next, func(q TableProgress) bool { return q.Table == p.Table })
	if i < 0 {
		return nil
	}
	next[i] = p
	return c.saveLocked(next)
}

// pending returns the first table not copied yet, and the plan's
// generation.
func (c *chunker) pending() (TableProgress, chan struct{}, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.loadLocked(); err != nil {
		return TableProgress{}, nil, false, err
	}
	for _, p := range c.progress {
		if !p.Done {
			return p, c.reset, true, nil
		}
	}
	return TableProgress{}, c.reset, false, nil
}

// errPlanReplaced stops a table's copy when a new snapshot plan replaced
// the one it belonged to.
var errPlanReplaced = errors.New("chunked snapshot plan replaced")

// loop copies queued tables while the stream streams, until ctx ends.
// Failures are retried after a pause; the copy resumes from the last
// chunk recorded.
func (c *chunker) loop(ctx context.Context) error {
	retry := Retrier{MaxBackoff: c.s.opts.MaxBackoff}
	for {
		p, gen, ok, err := c.pending()
		if err != nil {
			return err
		}
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-c.wake:
				continue
			}
		}
		if !c.s.Connected() {
			// Watermarks are seen only by a stream that runs on the slot.
			select {
			case <-ctx.Done():
				return nil
			case <-c.wake:
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		running := c.s.metrics.snapshotStarted(c.s.src.Name)
		err = c.copyTable(ctx, gen, p)
		running()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil, errors.Is(err, errPlanReplaced):
			retry.Reset()
			continue
		}
		wait, stop := retry.Next(err)
		if stop != nil {
			return fmt.Errorf("source %q: chunked snapshot of %s: %w", c.s.src.Name, p.Table, stop)
		}
		c.s.log.Warn("chunked snapshot interrupted; retrying", "table", p.Table.String(), "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// inflight is a chunk delivered downstream and not yet known durable,
// with the progress its confirmation makes durable.
type inflight struct {
	at       LSN
	progress TableProgress
}

// chunksInFlight is how many chunks may be delivered and not yet
// confirmed: enough to keep the engine and the search engine busy while
// the next chunk is read, few enough that a restart copies little again.
const chunksInFlight = 4

// copyTable copies p's table from after p.LastKey to its end, a chunk at
// a time. At most chunksInFlight chunks are unconfirmed at once, so a
// restart copies at most that many again.
func (c *chunker) copyTable(ctx context.Context, gen chan struct{}, p TableProgress) error {
	s := c.s
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	t := p.Table
	key, err := identityColumns(ctx, conn, t)
	if err != nil {
		return err
	}
	if len(key) == 0 {
		return permanent(fmt.Errorf("table %s has neither a primary key nor a replica identity index, which a chunked snapshot "+
			"copies in order of: add one, or set the source's snapshot.mode to exported", t))
	}
	keyTypes, err := columnTypes(ctx, conn, t, key)
	if err != nil {
		return err
	}
	if p.Estimate, err = estimateRows(ctx, conn, t); err != nil {
		return err
	}
	cp := &copier{session: &session{stream: s}, conn: conn, types: NewCatalogTypes(conn)}
	if err := cp.prepareTypes(ctx, t); err != nil {
		return err
	}
	if p.Rows == 0 && len(p.LastKey) == 0 {
		s.log.Info("chunked snapshot of table starts", "table", t.String(), "estimated_rows", p.Estimate)
	} else {
		s.log.Info("chunked snapshot of table resumes", "table", t.String(), "rows", p.Rows, "after_key", p.LastKey)
	}
	s.metrics.chunkProgress(s.src.Name, p)
	started := p.Rows
	var flight []inflight
	var spent chunkTimes
	began, lastLog := time.Now(), time.Now()
	defer c.win.stop()
	for {
		// Record what is confirmed, and wait for room before reading on.
		if len(flight) > 0 {
			at := time.Now()
			if err := c.settle(ctx, gen, &flight, chunksInFlight-1); err != nil {
				return err
			}
			spent.confirm += time.Since(at)
		}
		n, upper, res, times, err := c.copyChunk(ctx, gen, cp, t, key, keyTypes, p.LastKey)
		if err != nil {
			return err
		}
		spent.add(times)
		if res.retry {
			s.log.Info("chunk met a change without its key; copying it again", "table", t.String())
			continue
		}
		p.Rows += int64(n)
		p.Chunks++
		p.LastKey = upper
		p.Done = upper == nil
		p.Estimate = max(p.Estimate, p.Rows)
		s.metrics.snapshotRows.WithLabelValues(s.src.Name, t.String()).Add(float64(n))
		s.metrics.countLossy(s.src.Name, cp.types.takeLossy())
		s.metrics.chunkProgress(s.src.Name, p)
		if progress := s.opts.Progress; progress != nil {
			progress(t, p.Rows, p.Estimate)
		}
		flight = append(flight, inflight{at: res.at, progress: p})
		if time.Since(lastLog) > 10*time.Second {
			s.log.Info("chunked snapshot progress", append([]any{"table", t.String(), "rows", p.Rows, "estimated_total", p.Estimate,
				"rows_per_second", int(float64(p.Rows-started) / time.Since(began).Seconds())}, spent.attrs()...)...)
			lastLog = time.Now()
		}
		if p.Done {
			at := time.Now()
			if err := c.settle(ctx, gen, &flight, 0); err != nil {
				return err
			}
			spent.confirm += time.Since(at)
			s.log.Info("chunked snapshot of table done", append([]any{"table", t.String(), "rows", p.Rows, "chunks", p.Chunks,
				"took", time.Since(began).Round(time.Millisecond)}, spent.attrs()...)...)
			return nil
		}
	}
}

// settle records the progress of the last chunk in flight confirmed
// downstream, waiting until at most keep remain unconfirmed.
func (c *chunker) settle(ctx context.Context, gen chan struct{}, flight *[]inflight, keep int) error {
	for {
		f := *flight
		done := 0
		for done < len(f) && c.s.Confirmed() >= f[done].at {
			done++
		}
		if done > 0 {
			if err := c.update(gen, f[done-1].progress); err != nil {
				return err
			}
			*flight = f[done:]
			continue
		}
		if len(f) <= keep {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-gen:
			return errPlanReplaced
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// copyChunk copies the rows after lastKey, up to a chunk of them, between
// a low and a high watermark, and waits until the stream delivered them.
// It returns how many rows it read and the key of the last (nil when the
// table's end was reached).
func (c *chunker) copyChunk(ctx context.Context, gen chan struct{}, cp *copier, t Table, key, keyTypes, lastKey []string) (int, []string, chunkResult, chunkTimes, error) {
	var times chunkTimes
	at := time.Now()
	c.next++
	id := chunkID{run: c.run, chunk: c.next}
	done := c.win.open(id, t, key)
	defer c.win.close(id)
	if err := c.emit(ctx, cp.conn, id, t, false); err != nil {
		return 0, nil, chunkResult{}, times, err
	}
	times.watermarks += lap(&at)
	if err := settleCommits(ctx, cp.conn, time.Second, c.long); err != nil {
		return 0, nil, chunkResult{}, times, err
	}
	times.visibility += lap(&at)
	rows := c.opts().Rows
	if rows <= 0 {
		rows = DefaultChunkRows
	}
	upper, err := chunkUpper(ctx, cp.conn, t, key, keyTypes, lastKey, rows)
	if err != nil {
		return 0, nil, chunkResult{}, times, err
	}
	changes, size, err := cp.fetch(ctx, chunkQuery(t, key, keyTypes, lastKey, upper), t, key)
	if err != nil {
		return 0, nil, chunkResult{}, times, err
	}
	if upper == nil && len(changes) == 0 && len(lastKey) == 0 {
		size = 0 // an empty table
	}
	c.win.fill(id, changes, txnOverhead+size)
	times.read += lap(&at)
	if err := c.emit(ctx, cp.conn, id, t, true); err != nil {
		return 0, nil, chunkResult{}, times, err
	}
	times.watermarks += lap(&at)
	select {
	case res := <-done:
		times.stream += lap(&at)
		return len(changes), upper, res, times, nil
	case <-gen:
		return 0, nil, chunkResult{}, times, errPlanReplaced
	case <-ctx.Done():
		return 0, nil, chunkResult{}, times, ctx.Err()
	}
}

// emit writes a watermark into the WAL, in a transaction of its own.
func (c *chunker) emit(ctx context.Context, conn *pgx.Conn, id chunkID, t Table, high bool) error {
	content, err := json.Marshal(watermark{Slot: c.s.src.SlotName(), Run: id.run, Chunk: id.chunk, High: high, Table: t.String()})
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1::text, $2::text)", WatermarkPrefix, string(content)); err != nil {
		return fmt.Errorf("write snapshot watermark: %w", err)
	}
	return nil
}

// columnTypes returns the SQL types of t's columns cols, to cast key
// literals to.
func columnTypes(ctx context.Context, conn *pgx.Conn, t Table, cols []string) ([]string, error) {
	types := make([]string, len(cols))
	for i, col := range cols {
		err := conn.QueryRow(ctx, `SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
			WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`, t.quoted(), col).Scan(&types[i])
		if err != nil {
			return nil, fmt.Errorf("read type of %s.%s: %w", t, col, err)
		}
	}
	return types, nil
}

// keyRow is the row value (k1, k2, …) of key.
func keyRow(key []string) string {
	cols := make([]string, len(key))
	for i, k := range key {
		cols[i] = pgx.Identifier{k}.Sanitize()
	}
	return "(" + strings.Join(cols, ", ") + ")"
}

// keyLiteral is the row value of a key's text forms, each cast to its
// column's type.
func keyLiteral(vals, types []string) string {
	lits := make([]string, len(vals))
	for i, v := range vals {
		lits[i] = quoteLiteral(v) + "::" + types[i]
	}
	return "(" + strings.Join(lits, ", ") + ")"
}

// chunkUpper returns the key of the rows-th row after lastKey in key
// order, in its text forms, or nil when fewer rows follow: the chunk then
// runs to the table's end.
func chunkUpper(ctx context.Context, conn *pgx.Conn, t Table, key, types, lastKey []string, rows int) ([]string, error) {
	sql := "SELECT " + strings.Trim(keyRow(key), "()") + " FROM " + t.quoted()
	if len(lastKey) > 0 {
		sql += " WHERE " + keyRow(key) + " > " + keyLiteral(lastKey, types)
	}
	sql += fmt.Sprintf(" ORDER BY %s OFFSET %d LIMIT 1", strings.Trim(keyRow(key), "()"), rows-1)
	result := conn.PgConn().ExecParams(ctx, sql, nil, nil, nil, nil)
	var upper []string
	for result.NextRow() {
		for _, raw := range result.Values() {
			upper = append(upper, string(raw))
		}
	}
	if _, err := result.Close(); err != nil {
		return nil, fmt.Errorf("find the end of the next chunk: %w", err)
	}
	return upper, nil
}

// chunkQuery selects the rows with keys after lastKey, up to and with
// upper.
func chunkQuery(t Table, key, types, lastKey, upper []string) string {
	var where []string
	if len(lastKey) > 0 {
		where = append(where, keyRow(key)+" > "+keyLiteral(lastKey, types))
	}
	if len(upper) > 0 {
		where = append(where, keyRow(key)+" <= "+keyLiteral(upper, types))
	}
	sql := "SELECT * FROM " + t.quoted()
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	return sql
}
