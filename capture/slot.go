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

// walsenderApplication is the application_name of projector's replication
// connections.
const walsenderApplication = "projector"

// dropSlot removes a slot, first ending a walsender that still holds it
// when it is projector's own (one left behind by a crashed projector: the
// caller holds the source's fence, so no live projector streams it). A
// walsender of any other consumer is not ended: that is an error.
func dropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	var pid *int
	var app *string
	err := conn.QueryRow(ctx, `SELECT s.active_pid, a.application_name FROM pg_replication_slots s
		LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid WHERE s.slot_name = $1`, name).Scan(&pid, &app)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up the walsender of slot %q: %w", name, err)
	}
	if pid != nil && deref(app) != walsenderApplication {
		return permanent(fmt.Errorf("slot %q is in use by another consumer (pid %d, application %q); stop it or give this source a slot of its own",
			name, *pid, deref(app)))
	}
	return DropSlot(ctx, conn, name)
}

// DropSlot drops the slot name, first ending a connection that still
// holds it. Dropping a slot loses the changes it held for projector: the
// source then needs a new snapshot.
func DropSlot(ctx context.Context, conn *pgx.Conn, name string) error {
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// slotElsewhere fails when the source's slot name is taken by another
// database on the same server: slot names are server-wide, so two
// sources (or two projectors) with the same name on one server collide.
func slotElsewhere(ctx context.Context, conn *pgx.Conn, src Source) error {
	var db *string
	err := conn.QueryRow(ctx, `SELECT database FROM pg_replication_slots WHERE slot_name = $1`, src.SlotName()).Scan(&db)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up slot %q: %w", src.SlotName(), err)
	}
	where := "as a physical slot"
	if db != nil {
		where = "for database " + *db
	}
	return permanent(fmt.Errorf("replication slot %q already exists on this server %s: slot names are server-wide, so set sources.%s.slot to a name of its own",
		src.SlotName(), where, src.Name))
}
