package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"syscall"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/transform/ledger"
)

// drainArgs are the pgoutput options every contender asks for: those
// projector uses on PostgreSQL 14 and later.
var drainArgs = []string{"proto_version '2'", "publication_names '" + drainPublication + "'", "streaming 'on'", "messages 'true'"}

// drainResult is what one contender did with one slot.
type drainResult struct {
	rows    int
	elapsed time.Duration
	// cpu is the client's CPU time, user and system: this process's for
	// the contenders that run in it (nothing else runs meanwhile), the
	// child's for pg_recvlogical.
	cpu time.Duration
}

// processCPU is the CPU time, user and system, this process used so far.
// getrusage fails only for an invalid argument, which these are not.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// drainProjector runs projector's capture stage on slot: the Stream with
// its decoder, each transaction (the domain event the engine applies) confirmed at
// once, as if downstream cost nothing. It stops at the commit of the
// bench_end row.
func drainProjector(ctx context.Context, db *Database, slot string) (drainResult, error) {
	tables := make([]capture.Table, len(drainTables))
	for i, t := range drainTables {
		tables[i] = capture.Table{Schema: "public", Name: t}
	}
	src := capture.Source{Name: "bench", DSN: db.DSN, Tables: tables, Slot: slot, Publication: drainPublication}
	stream := capture.NewStream(src, capture.Options{}, capture.NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	confirm := ledger.Streams{src.Name: stream}.Confirm
	var res drainResult
	done := false
	start, cpu := time.Now(), processCPU()
	err := stream.Run(ctx, capture.Checkpoint{SnapshotDone: true}, func(_ context.Context, txn *capture.Transaction) error {
		res.rows += len(txn.Changes)
		for i := range txn.Changes {
			if txn.Changes[i].Table.Name == "bench_end" {
				done = true
			}
		}
		confirm(src.Name, txn.EndLSN)
		if done {
			res.elapsed, res.cpu = time.Since(start), processCPU()-cpu
			cancel()
		}
		return nil
	})
	if !done {
		return res, fmt.Errorf("projector's capture stage on slot %s: %w", slot, err)
	}
	return res, nil
}

// drainBare is the ceiling: one replication connection, every message
// parsed by pglogrepl and nothing else done with it.
func drainBare(ctx context.Context, db *Database, slot string) (drainResult, error) {
	var res drainResult
	start, cpu := time.Now(), processCPU()
	repl, err := pgconn.Connect(ctx, db.DSN+"&replication=database")
	if err != nil {
		return res, fmt.Errorf("open replication connection to %s: %w", db.Name, err)
	}
	defer repl.Close(context.Background())
	if err := pglogrepl.StartReplication(ctx, repl, slot, 0, pglogrepl.StartReplicationOptions{PluginArgs: drainArgs}); err != nil {
		return res, fmt.Errorf("start replication from slot %s: %w", slot, err)
	}
	p := bareParser{}
	var pos pglogrepl.LSN
	nextStatus := time.Now().Add(10 * time.Second)
	for !p.done {
		msg, err := repl.ReceiveMessage(ctx)
		if err != nil {
			return res, fmt.Errorf("receive from slot %s: %w", slot, err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 {
			continue
		}
		reply := false
		switch cd.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
			if err != nil {
				return res, fmt.Errorf("parse keepalive: %w", err)
			}
			reply = ka.ReplyRequested
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
			if err != nil {
				return res, fmt.Errorf("parse XLogData: %w", err)
			}
			if err := p.handle(xld.WALData); err != nil {
				return res, err
			}
			pos = xld.WALStart
		}
		// Status updates as often as projector sends them, so both cost
		// the server alike.
		if reply || time.Now().After(nextStatus) {
			err := pglogrepl.SendStandbyStatusUpdate(ctx, repl, pglogrepl.StandbyStatusUpdate{
				WALWritePosition: pos, WALFlushPosition: pos, WALApplyPosition: pos})
			if err != nil {
				return res, fmt.Errorf("send standby status update: %w", err)
			}
			nextStatus = time.Now().Add(10 * time.Second)
		}
	}
	res.rows = p.rows
	res.elapsed, res.cpu = time.Since(start), processCPU()-cpu
	return res, nil
}

// bareParser parses pgoutput v2 messages and counts row changes until the
// transaction that wrote bench_end commits.
type bareParser struct {
	inStream bool
	endRel   uint32
	sawEnd   bool
	rows     int
	done     bool
}

func (p *bareParser) handle(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case 'S':
		p.inStream = true
	case 'E':
		p.inStream = false
	}
	msg, err := pglogrepl.ParseV2(data, p.inStream)
	if err != nil {
		return fmt.Errorf("parse pgoutput message %q: %w", data[0], err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessageV2:
		if m.RelationName == "bench_end" {
			p.endRel = m.RelationID
		}
	case *pglogrepl.InsertMessageV2:
		p.rows++
		p.sawEnd = p.sawEnd || (p.endRel != 0 && m.RelationID == p.endRel)
	case *pglogrepl.UpdateMessageV2, *pglogrepl.DeleteMessageV2:
		p.rows++
	case *pglogrepl.CommitMessage, *pglogrepl.StreamCommitMessageV2:
		p.done = p.sawEnd
	}
	return nil
}

// drainRecvlogical is PostgreSQL's own client, writing the stream to
// /dev/null up to endLSN.
func drainRecvlogical(ctx context.Context, db *Database, slot, endLSN string) (drainResult, error) {
	bin, err := testbed.PGBin("pg_recvlogical")
	if err != nil {
		return drainResult{}, err
	}
	args := []string{"-d", db.DSN, "--slot", slot, "--start", "--no-loop", "-f", "/dev/null", "--endpos", endLSN,
		"-o", "proto_version=2", "-o", "publication_names=" + drainPublication, "-o", "streaming=on", "-o", "messages=true"}
	start := time.Now()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		return drainResult{}, fmt.Errorf("pg_recvlogical on slot %s: %w\n%s", slot, err, out)
	}
	return drainResult{elapsed: elapsed, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}
