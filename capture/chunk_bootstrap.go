package capture

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// bootstrapChunked starts a chunked snapshot on the slot just created at
// consistent, when the source's snapshot mode calls for one: every table
// is queued for the chunker, and one empty snapshot transaction tells
// downstream to forget the source's earlier state and that streaming
// follows at once. It reports whether it did; if not, the queue is
// emptied, since the exported snapshot copies everything.
func (ss *session) bootstrapChunked(ctx context.Context, consistent LSN) (bool, error) {
	s := ss.stream
	conn, err := s.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	mode, why, err := s.chunks.decide(ctx, conn)
	if err != nil {
		return false, err
	}
	if mode != SnapshotChunked {
		return false, s.chunks.plan(nil)
	}
	if err := s.chunks.plan(s.src.Tables); err != nil {
		return false, err
	}
	s.log.Info("created slot; chunked snapshot starts with the stream", "slot", s.src.SlotName(),
		"consistent_point", consistent, "tables", len(s.src.Tables), "why", why)
	cp := &copier{session: ss, at: consistent, reset: true}
	if err := cp.emit(ctx, nil, 0, Table{}, true); err != nil {
		return false, err
	}
	ss.snapshotDone = true
	return true, nil
}

// decide picks the snapshot mode of the source, and says why.
func (c *chunker) decide(ctx context.Context, conn *pgx.Conn) (SnapshotMode, string, error) {
	mode := c.opts().Mode
	if mode == SnapshotExported {
		return mode, "configured", nil
	}
	proto, err := protocolFor(ctx, conn)
	if err != nil {
		return "", "", err
	}
	if !proto.Messages {
		if mode == SnapshotChunked {
			return "", "", permanent(fmt.Errorf("source %q: a chunked snapshot needs logical decoding messages (PostgreSQL 14 or later); "+
				"set the source's snapshot.mode to exported", c.s.src.Name))
		}
		return SnapshotExported, "the server cannot send logical decoding messages", nil
	}
	if mode == SnapshotChunked {
		return mode, "configured", nil
	}
	limit := c.opts().AutoRows
	if limit <= 0 {
		limit = DefaultAutoChunkedRows
	}
	var total int64
	for _, t := range c.s.src.Tables {
		key, err := identityColumns(ctx, conn, t)
		if err != nil {
			return "", "", err
		}
		if len(key) == 0 {
			return SnapshotExported, "table " + t.String() + " has no key to copy it in order of", nil
		}
		n, err := estimateRows(ctx, conn, t)
		if err != nil {
			return "", "", err
		}
		total += n
	}
	if total <= limit {
		return SnapshotExported, fmt.Sprintf("an estimated %d rows, at most %d", total, limit), nil
	}
	return SnapshotChunked, fmt.Sprintf("an estimated %d rows, more than %d", total, limit), nil
}
