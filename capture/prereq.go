package capture

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CheckResult is the outcome of one prerequisite check on a source. Err is
// nil when the check passed; otherwise it says what is wrong and how to fix
// it.
type CheckResult struct {
	Name string
	Err  error
}

// CheckPrerequisites verifies everything logical replication of src needs
// on the live server, and reports every problem rather than the first.
func CheckPrerequisites(ctx context.Context, conn *pgx.Conn, src Source) []CheckResult {
	results := []CheckResult{
		{"wal_level is logical", checkWALLevel(ctx, conn)},
		{"role may replicate", checkReplicationRole(ctx, conn)},
		{"free replication slot and sender", checkCapacity(ctx, conn, src.SlotName())},
	}
	for _, t := range src.Tables {
		results = append(results, CheckResult{"table " + t.String() + " is replicable", checkTable(ctx, conn, t)})
	}
	return results
}

// prerequisitesError joins the failed checks into one error.
func prerequisitesError(src Source, results []CheckResult) error {
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("source %q is not ready for logical replication:\n%w", src.Name, errors.Join(errs...))
}

func checkWALLevel(ctx context.Context, conn *pgx.Conn) error {
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return fmt.Errorf("read wal_level: %w", err)
	}
	if level != "logical" {
		return fmt.Errorf("wal_level is %q: set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart the server", level)
	}
	return nil
}

func checkReplicationRole(ctx context.Context, conn *pgx.Conn) error {
	var user string
	var ok bool
	err := conn.QueryRow(ctx, `SELECT current_user, rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&user, &ok)
	if err != nil {
		return fmt.Errorf("read role attributes: %w", err)
	}
	if !ok {
		return fmt.Errorf("role %q lacks the REPLICATION attribute: run ALTER ROLE %s WITH REPLICATION as a superuser",
			user, pgx.Identifier{user}.Sanitize())
	}
	return nil
}

func checkCapacity(ctx context.Context, conn *pgx.Conn, slot string) error {
	var exists bool
	var slots, maxSlots, senders, maxSenders int
	err := conn.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),
		(SELECT count(*) FROM pg_replication_slots),
		current_setting('max_replication_slots')::int,
		(SELECT count(*) FROM pg_stat_replication),
		current_setting('max_wal_senders')::int`, slot).Scan(&exists, &slots, &maxSlots, &senders, &maxSenders)
	if err != nil {
		return fmt.Errorf("read replication capacity: %w", err)
	}
	if !exists && slots >= maxSlots {
		return fmt.Errorf("all %d replication slots are in use: raise max_replication_slots and restart, or drop an unused slot (SELECT pg_drop_replication_slot('name'))", maxSlots)
	}
	if senders >= maxSenders {
		return fmt.Errorf("all %d WAL senders are busy: raise max_wal_senders and restart the server", maxSenders)
	}
	return nil
}

// checkTable requires the table to exist and to identify its rows: the
// document _id is made of the primary key, or of the replica identity
// index under REPLICA IDENTITY USING INDEX. REPLICA IDENTITY FULL alone is
// not enough: a key made of every column changes on every update.
func checkTable(ctx context.Context, conn *pgx.Conn, t Table) error {
	var identity string
	var hasPK, hasIdentityIndex bool
	err := conn.QueryRow(ctx, `SELECT c.relreplident::text,
			EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
			EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, t.Schema, t.Name).Scan(&identity, &hasPK, &hasIdentityIndex)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("table %s does not exist: create it, or fix the table name in the view", t)
	}
	if err != nil {
		return fmt.Errorf("inspect table %s: %w", t, err)
	}
	switch {
	case identity == "n":
		return fmt.Errorf("table %s has REPLICA IDENTITY NOTHING: run ALTER TABLE %s REPLICA IDENTITY DEFAULT (with a primary key) or FULL", t, t.quoted())
	case identity == "i" && !hasIdentityIndex:
		return fmt.Errorf("table %s has REPLICA IDENTITY USING INDEX but the index is gone: run ALTER TABLE %s REPLICA IDENTITY USING INDEX <unique index on NOT NULL columns>, or add a primary key and set REPLICA IDENTITY DEFAULT", t, t.quoted())
	case identity != "i" && !hasPK:
		return fmt.Errorf("table %s has no primary key to make document ids of: add one, or run ALTER TABLE %s REPLICA IDENTITY USING INDEX <unique index on NOT NULL columns>", t, t.quoted())
	}
	return nil
}

func (t Table) quoted() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }
