package capture

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// failoverMinVersion is the first PostgreSQL major version that can
// synchronize a logical slot to its standbys.
const failoverMinVersion = 17

// createSlot creates the source's logical slot on repl and exports a
// snapshot of the moment it starts from. With failover, the slot is marked
// to be synchronized to physical standbys (PostgreSQL 17+, with
// sync_replication_slots on the standby), so that a promoted standby,
// as managed services do on failover, still has it and projector resumes
// without a new snapshot. Older servers refuse failover for good: the
// option would silently do nothing.
func createSlot(ctx context.Context, repl *pgconn.PgConn, name string, failover bool) (pglogrepl.CreateReplicationSlotResult, error) {
	if !failover {
		res, err := pglogrepl.CreateReplicationSlot(ctx, repl, name, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{SnapshotAction: "EXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
		if err != nil {
			return res, fmt.Errorf("create slot %q: %w", name, err)
		}
		return res, nil
	}
	if err := failoverSupported(repl); err != nil {
		return pglogrepl.CreateReplicationSlotResult{}, fmt.Errorf("create slot %q: %w", name, err)
	}
	sql := "CREATE_REPLICATION_SLOT " + pgx.Identifier{name}.Sanitize() +
		" LOGICAL pgoutput (SNAPSHOT 'export', FAILOVER true)"
	res, err := pglogrepl.ParseCreateReplicationSlot(repl.Exec(ctx, sql))
	if err != nil {
		return res, fmt.Errorf("create failover slot %q: %w", name, err)
	}
	return res, nil
}

// failoverSupported refuses failover slots on servers older than 17, for
// good: the server_version of repl is what was asked for.
func failoverSupported(repl *pgconn.PgConn) error {
	version := repl.ParameterStatus("server_version")
	if serverMajor(version) < failoverMinVersion {
		return permanent(fmt.Errorf("capture.failover_slot needs PostgreSQL %d or later, and the server is %s; "+
			"remove capture.failover_slot or upgrade the server", failoverMinVersion, version))
	}
	return nil
}

// ensureFailoverSlot applies capture.failover_slot before streaming starts:
// it refuses an older server even when the slot already exists, and turns
// failover on for an existing slot created without it, so that turning the
// setting on protects a running deployment too.
func ensureFailoverSlot(ctx context.Context, conn *pgx.Conn, repl *pgconn.PgConn, name string, failover bool, log *slog.Logger) error {
	if !failover {
		return nil
	}
	if err := failoverSupported(repl); err != nil {
		return err
	}
	var on *bool
	err := conn.QueryRow(ctx, `SELECT (SELECT failover FROM pg_replication_slots WHERE slot_name = $1)`, name).Scan(&on)
	if err != nil {
		return fmt.Errorf("read failover of slot %q: %w", name, err)
	}
	if on == nil || *on {
		return nil // created with failover when the snapshot starts, or already on
	}
	if _, err := repl.Exec(ctx, "ALTER_REPLICATION_SLOT "+pgx.Identifier{name}.Sanitize()+" (FAILOVER true)").ReadAll(); err != nil {
		return fmt.Errorf("turn on failover for slot %q: %w", name, err)
	}
	log.Info("turned on failover for the existing slot", "slot", name)
	return nil
}

// serverMajor reads the major version from a server_version such as "17.2"
// or "18beta1 (Debian 18~beta1-1)"; 0 when it cannot.
func serverMajor(version string) int {
	end := strings.IndexFunc(version, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(version)
	}
	major, err := strconv.Atoi(version[:end])
	if err != nil {
		return 0
	}
	return major
}
