package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Tail delivers src's transactions committed from now on, for debugging,
// through a temporary slot that the server drops when the connection
// ends: projector's own slot and confirmed position are never touched.
// It creates the source's publication if it does not exist yet, as run
// would.
func Tail(ctx context.Context, src Source, log *slog.Logger, deliver DeliverFunc) error {
	s := NewStream(src, Options{}, nil, log)
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := ensurePublication(ctx, conn, src, s.log); err != nil {
		return err
	}
	proto, err := protocolFor(ctx, conn)
	if err != nil {
		return err
	}
	repl, err := s.replicationConn(ctx)
	if err != nil {
		return err
	}
	defer repl.Close(context.Background())
	slot := fmt.Sprintf("projector_tail_%d", time.Now().UnixNano())
	created, err := pglogrepl.CreateReplicationSlot(ctx, repl, slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true, SnapshotAction: "NOEXPORT_SNAPSHOT"})
	if err != nil {
		return fmt.Errorf("create temporary slot on source %q: %w", src.Name, err)
	}
	start, err := pglogrepl.ParseLSN(created.ConsistentPoint)
	if err != nil {
		return fmt.Errorf("temporary slot position: %w", err)
	}
	err = pglogrepl.StartReplication(ctx, repl, slot, start,
		pglogrepl.StartReplicationOptions{PluginArgs: proto.pluginArgs(src.PublicationName())})
	if err != nil {
		return classifyStartError(slot, err)
	}
	s.log.Info("tailing", "from", LSN(start), "temporary_slot", slot)
	return tailLoop(ctx, repl, proto.newDecoder(src.Name, NewCatalogTypes(conn)), deliver)
}

func tailLoop(ctx context.Context, repl *pgconn.PgConn, dec *Decoder, deliver DeliverFunc) error {
	var pos pglogrepl.LSN
	for {
		msg, err := repl.ReceiveMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("receive replication message: %w", err)
		}
		var data []byte
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			data = msg.Data
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyDone:
			return errors.New("replication stream ended by the server")
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
			if err != nil {
				return fmt.Errorf("parse keepalive: %w", err)
			}
			if ka.ReplyRequested {
				// The temporary slot dies with the connection, so what
				// this reports does not matter beyond keeping it alive.
				err := pglogrepl.SendStandbyStatusUpdate(ctx, repl, pglogrepl.StandbyStatusUpdate{WALWritePosition: pos})
				if err != nil {
					return fmt.Errorf("send standby status update: %w", err)
				}
			}
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(data[1:])
			if err != nil {
				return fmt.Errorf("parse XLogData: %w", err)
			}
			pos = max(pos, xld.WALStart)
			txn, err := dec.Decode(ctx, LSN(xld.WALStart), xld.WALData)
			if err != nil {
				return decodeError(err)
			}
			if txn == nil {
				continue
			}
			if txn.CommitTime.IsZero() {
				txn.CommitTime = xld.ServerTime
			}
			if err := deliver(ctx, txn); err != nil {
				return err
			}
		}
	}
}
