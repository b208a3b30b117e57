package capture

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrSlotLost means the server invalidated the slot (its WAL was removed,
// for instance past max_slot_wal_keep_size): changes are gone, and the only
// way forward without a gap is a new slot with a new snapshot.
var ErrSlotLost = errors.New("replication slot lost")

// slotState is what the server knows of a slot.
type slotState struct {
	Exists       bool
	Plugin       string
	ConfirmedLSN LSN
	WALStatus    string
	Active       bool
}

func readSlot(ctx context.Context, conn *pgx.Conn, name string) (slotState, error) {
	var s slotState
	var confirmed *string
	var walStatus *string
	err := conn.QueryRow(ctx, `SELECT plugin, confirmed_flush_lsn::text, wal_status, active
		FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`, name).
		Scan(&s.Plugin, &confirmed, &walStatus, &s.Active)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read slot %q: %w", name, err)
	}
	s.Exists = true
	if walStatus != nil {
		s.WALStatus = *walStatus
	}
	if confirmed != nil {
		if s.ConfirmedLSN, err = ParseLSN(*confirmed); err != nil {
			return s, fmt.Errorf("read slot %q: %w", name, err)
		}
	}
	return s, nil
}

// dropSlot removes a slot, first ending a walsender that still holds it
// (for instance one left behind by a crashed projector).
func dropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	_, err := conn.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
		WHERE slot_name = $1 AND active_pid IS NOT NULL`, name)
	if err != nil {
		return fmt.Errorf("release slot %q: %w", name, err)
	}
	_, err = conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		WHERE slot_name = $1`, name)
	if err != nil {
		return fmt.Errorf("drop slot %q: %w", name, err)
	}
	return nil
}
