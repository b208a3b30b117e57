package capture

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// bootstrap creates the slot and copies every table as of the slot's
// consistent point, using the snapshot the slot creation exports. Rows
// committed before that point are in the copy and those committed after it
// are in the stream, so nothing is missed and nothing applied twice. The
// exported snapshot lives only while the replication connection stays idle,
// so the copy runs to completion before streaming starts on it.
func (ss *session) bootstrap(ctx context.Context, repl *pgconn.PgConn) (LSN, error) {
	s := ss.stream
	defer s.metrics.snapshotStarted(s.src.Name)()
	defer s.chunks.exporting()()
	res, err := createSlot(ctx, repl, s.src.SlotName(), s.opts.FailoverSlot)
	if err != nil {
		return 0, err
	}
	consistent, err := ParseLSN(res.ConsistentPoint)
	if err != nil {
		return 0, permanent(err)
	}
	if s.opts.Marks != nil {
		// The new slot starts here: recorded before anything else, so that
		// a restart recognises it.
		if err := ss.record(consistent); err != nil {
			return 0, err
		}
	}
	if chunked, err := ss.bootstrapChunked(ctx, consistent); err != nil || chunked {
		return consistent, err
	}
	s.log.Info("created slot; snapshot starts", "slot", res.SlotName, "consistent_point", consistent, "tables", len(s.src.Tables))

	conn, err := s.connect(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, fmt.Errorf("begin snapshot transaction: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read-only; nothing to keep
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(res.SnapshotName)); err != nil {
		return 0, fmt.Errorf("use exported snapshot %s: %w", res.SnapshotName, err)
	}
	cp := &copier{session: ss, conn: conn, types: NewCatalogTypes(conn), at: consistent, reset: true, recycle: s.recycle}
	for _, t := range s.src.Tables {
		if err := cp.copyTable(ctx, t); err != nil {
			return 0, fmt.Errorf("snapshot of %s: %w", t, err)
		}
		cp.copied = append(cp.copied, t)
	}
	// The closing marker tells downstream the snapshot is complete, so a
	// restart after it resumes the stream instead of starting over.
	if err := cp.emit(ctx, nil, 0, Table{}, true); err != nil {
		return 0, err
	}
	ss.snapshotDone = true
	s.log.Info("snapshot done", "rows", cp.total, "consistent_point", consistent)
	return consistent, nil
}

// copier streams one snapshot's rows downstream in bounded chunks.
type copier struct {
	*session
	conn  *pgx.Conn
	types *CatalogTypes
	at    LSN
	reset bool // the next transaction is the first of the snapshot
	total int64
	// copied lists the tables copied completely so far.
	copied []Table
	// recycle, when set, gives the chunks' rows back once downstream
	// applied them (Transaction.Release), to be decoded into again. Only
	// the copy of the exported snapshot sets it: a chunked snapshot's rows
	// travel in streamed transactions and its window keeps the last
	// chunk's rows after delivery, to attach them again after a reconnect.
	recycle *chunkRecycler
}

func (cp *copier) copyTable(ctx context.Context, t Table) error {
	key, err := identityColumns(ctx, cp.conn, t)
	if err != nil {
		return err
	}
	estimate, err := estimateRows(ctx, cp.conn, t)
	if err != nil {
		return err
	}
	if err := cp.prepareTypes(ctx, t); err != nil {
		return err
	}
	cursor := pgx.Identifier{"projector_snapshot"}.Sanitize()
	if _, err := cp.conn.Exec(ctx, "DECLARE "+cursor+" NO SCROLL CURSOR FOR SELECT * FROM "+t.quoted()); err != nil {
		return fmt.Errorf("open cursor: %w", err)
	}
	defer cp.conn.Exec(context.Background(), "CLOSE "+cursor) //nolint:errcheck // the transaction ends anyway

	fetch := fmt.Sprintf("FETCH %d FROM %s", cp.stream.opts.SnapshotChunkRows, cursor)
	var done int64
	lastLog := time.Now()
	for {
		rows, size, err := cp.fetch(ctx, fetch, t, key)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		done += int64(len(rows))
		cp.total += int64(len(rows))
		cp.stream.metrics.snapshotRows.WithLabelValues(cp.stream.src.Name, t.String()).Add(float64(len(rows)))
		cp.stream.metrics.countLossy(cp.stream.src.Name, cp.types.takeLossy())
		if err := cp.emit(ctx, rows, size, t, false); err != nil {
			return err
		}
		if progress := cp.stream.opts.Progress; progress != nil {
			progress(t, done, max(estimate, done))
		}
		if time.Since(lastLog) > 10*time.Second {
			cp.stream.log.Info("snapshot progress", "table", t.String(), "rows", done, "estimated_total", max(estimate, done))
			lastLog = time.Now()
		}
	}
	cp.stream.log.Info("snapshot of table done", "table", t.String(), "rows", done)
	return nil
}

// prepareTypes resolves the table's column types up front: while a chunk
// is being read the connection is busy and cannot look up an enum or a
// domain in the catalog.
func (cp *copier) prepareTypes(ctx context.Context, t Table) error {
	result := cp.conn.PgConn().ExecParams(ctx, "SELECT * FROM "+t.quoted()+" LIMIT 0", nil, nil, nil, nil)
	fields := result.FieldDescriptions()
	oids := make([]uint32, len(fields))
	for i, f := range fields {
		oids[i] = f.DataTypeOID
	}
	if _, err := result.Close(); err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	return cp.types.prepareText(ctx, oids...)
}

// fetch reads one chunk in the text format, which the decoder turns into
// the same typed values the replication stream yields. It also returns
// the chunk's weight in memory, estimated from the values as they arrive.
func (cp *copier) fetch(ctx context.Context, sql string, t Table, key []string) ([]Change, int64, error) {
	result := cp.conn.PgConn().ExecParams(ctx, sql, nil, nil, nil, nil)
	fields := result.FieldDescriptions()
	var changes []Change
	var values int64
	for result.NextRow() {
		if changes == nil {
			if cp.recycle != nil {
				changes = cp.recycle.get(len(fields))
			}
			if changes == nil {
				changes = make([]Change, 0, cp.stream.opts.SnapshotChunkRows) // a full chunk, but for the last
			}
		}
		row := nextRow(changes, len(fields))
		size, err := cp.types.decodeTextRow(ctx, fields, result.Values(), row)
		if err != nil {
			result.Close() //nolint:errcheck // the decode error is the one to report
			return nil, 0, err
		}
		values += size
		changes = append(changes, Change{Op: Read, Table: t, Key: key, New: row})
	}
	if _, err := result.Close(); err != nil {
		return nil, 0, fmt.Errorf("fetch rows: %w", err)
	}
	return changes, copiedWeight(len(changes), len(changes)*len(fields), values), nil
}

// emit hands a chunk of rows, weighing size bytes, downstream.
func (cp *copier) emit(ctx context.Context, rows []Change, size int64, t Table, last bool) error {
	txn := &Transaction{
		Source:       cp.stream.src.Name,
		CommitLSN:    cp.at,
		EndLSN:       cp.at,
		CommitTime:   time.Now(),
		Snapshot:     true,
		SnapshotDone: last,
		Reset:        cp.reset,
		Copied:       slices.Clip(cp.copied),
		Changes:      rows,
	}
	if len(rows) > 0 {
		txn.recycle = cp.recycle
	}
	cp.reset = false
	txn.Bytes = txnOverhead + size
	charge, err := cp.stream.budget.Acquire(ctx, txn.Bytes)
	if err != nil {
		return err
	}
	txn.charge = charge
	cp.stream.track(txn)
	cp.stream.queued.Add(1) // nothing overtakes it (see session.push)
	select {
	case cp.out <- txn:
		cp.delivered = cp.at
		return nil
	case <-ctx.Done():
		cp.stream.queued.Add(-1)
		cp.stream.delivered(txn)
		return ctx.Err()
	}
}

func estimateRows(ctx context.Context, conn *pgx.Conn, t Table) (int64, error) {
	var n float64
	err := conn.QueryRow(ctx, `SELECT greatest(c.reltuples, 0) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, t.Schema, t.Name).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("estimate rows: %w", err)
	}
	return int64(n), nil
}
