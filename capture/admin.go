package capture

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SlotInfo is what an operator wants to know about a replication slot,
// and what the lag metrics and `projector check` read from it.
type SlotInfo struct {
	Name      string
	Exists    bool
	Plugin    string
	Active    bool
	WALStatus string // reserved, extended, unreserved or lost
	// Current is the server's WAL position when the slot was read, known
	// even when the slot does not exist.
	Current LSN
	// Confirmed is the position downstream confirmed; Restart is the
	// oldest WAL the server keeps for the slot.
	Confirmed, Restart LSN
	// RetainedBytes is the WAL the server keeps for the slot; LagBytes is
	// how far the confirmed position trails the server's WAL.
	RetainedBytes, LagBytes int64
}

// InspectSlot reads the slot name of the database conn is connected to,
// and the server's current WAL position. It is the one reading of a slot
// shared by `projector slots`, `projector check` and the lag metrics, so
// that they never disagree.
func InspectSlot(ctx context.Context, conn *pgx.Conn, name string) (SlotInfo, error) {
	info := SlotInfo{Name: name}
	var current, plugin, walStatus, confirmed, restart *string
	var active *bool
	// The join from one row reads the current position even without a slot.
	err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text, s.slot_name IS NOT NULL, s.plugin, s.active, s.wal_status,
			s.confirmed_flush_lsn::text, s.restart_lsn::text
		FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = $1 AND s.database = current_database()`, name).
		Scan(&current, &info.Exists, &plugin, &active, &walStatus, &confirmed, &restart)
	if err != nil {
		return info, fmt.Errorf("read slot %q: %w", name, err)
	}
	if info.Current, err = parseOptionalLSN(current); err != nil {
		return info, fmt.Errorf("read slot %q: %w", name, err)
	}
	if !info.Exists {
		return info, nil
	}
	info.Plugin, info.WALStatus = deref(plugin), deref(walStatus)
	info.Active = active != nil && *active
	if info.Confirmed, err = parseOptionalLSN(confirmed); err != nil {
		return info, fmt.Errorf("read slot %q: %w", name, err)
	}
	if info.Restart, err = parseOptionalLSN(restart); err != nil {
		return info, fmt.Errorf("read slot %q: %w", name, err)
	}
	if info.Restart != 0 {
		info.RetainedBytes = int64(Behind(info.Current, info.Restart))
	}
	if info.Confirmed != 0 {
		info.LagBytes = int64(Behind(info.Current, info.Confirmed))
	}
	return info, nil
}

// Behind is how many bytes of WAL position b trails a; 0 when it does not.
func Behind(a, b LSN) uint64 {
	if a <= b {
		return 0
	}
	return uint64(a - b)
}

func parseOptionalLSN(s *string) (LSN, error) {
	if s == nil {
		return 0, nil
	}
	return ParseLSN(*s)
}

// TableOIDs reads the catalog identity (pg_class OID) of each table that
// exists; a table that does not is left out. A table dropped and created
// again under the same name gets a new OID, which logical replication
// never reports.
func TableOIDs(ctx context.Context, conn *pgx.Conn, tables []Table) (map[Table]uint32, error) {
	oids := make(map[Table]uint32, len(tables))
	for _, t := range tables {
		var oid uint32
		err := conn.QueryRow(ctx, `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2`, t.Schema, t.Name).Scan(&oid)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the identity of %s: %w", t, err)
		}
		oids[t] = oid
	}
	return oids, nil
}
