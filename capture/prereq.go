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
	// Detail says what a passed check found, such as the platform
	// detected or how the role may replicate.
	Detail string
}

// CheckPrerequisites verifies everything logical replication of src needs
// on the live server, and reports every problem rather than the first.
// The platform the server runs on is detected first: the fixes it names
// are the ones that platform allows.
func CheckPrerequisites(ctx context.Context, conn *pgx.Conn, src Source) []CheckResult {
	info, err := DetectPlatform(ctx, conn)
	platform := CheckResult{Name: "server platform", Err: err, Detail: info.Platform.String() + ": " + info.Evidence}
	how, roleErr := checkReplicationRole(ctx, conn, info.Platform)
	results := []CheckResult{
		platform,
		{Name: "wal_level is logical", Err: checkWALLevel(ctx, conn, info.Platform)},
		{Name: "role may replicate", Err: roleErr, Detail: how},
		{Name: "role may read the tables", Err: checkTableAccess(ctx, conn, src.Tables)},
	}
	pubDetail, pubErr := checkPublicationRights(ctx, conn, src)
	results = append(results,
		CheckResult{Name: "role may create or extend the publication", Err: pubErr, Detail: pubDetail},
		CheckResult{Name: "free replication slot and sender", Err: checkCapacity(ctx, conn, src.SlotName())})
	for _, t := range src.Tables {
		results = append(results, CheckResult{Name: "table " + t.String() + " is replicable", Err: checkTable(ctx, conn, t)})
	}
	return results
}

// prerequisitesFailed is the error of a source whose server lacks what
// logical replication needs.
type prerequisitesFailed struct{ err error }

func (e prerequisitesFailed) Error() string { return e.err.Error() }
func (e prerequisitesFailed) Unwrap() error { return e.err }

// prerequisitesError joins the failed checks into one error. It is
// permanent unless a check could not run for a reason that heals, such as
// the connection dropping: then it is worth trying again.
func prerequisitesError(src Source, results []CheckResult) error {
	var errs []error
	healing := false
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
			healing = healing || Classify(r.Err) == Transient
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err := fmt.Errorf("source %q is not ready for logical replication:\n%w", src.Name, errors.Join(errs...))
	if healing {
		return err
	}
	return permanent(prerequisitesFailed{err})
}

func checkWALLevel(ctx context.Context, conn *pgx.Conn, p Platform) error {
	var level string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return fmt.Errorf("read wal_level: %w", err)
	}
	if level != "logical" {
		return fmt.Errorf("wal_level is %q on %s: %s", level, p, walLevelFix(p))
	}
	return nil
}

// checkReplicationRole requires the role to be allowed to open a
// replication connection: a superuser, the REPLICATION attribute, or, on
// platforms that grant replication by membership (RDS and Aurora), a
// member of the platform's replication role. It returns how the role may
// replicate.
func checkReplicationRole(ctx context.Context, conn *pgx.Conn, p Platform) (string, error) {
	var user string
	var super, repl bool
	var member *string
	err := conn.QueryRow(ctx, `SELECT current_user, r.rolsuper, r.rolreplication,
			(SELECT min(g.rolname) FROM pg_roles g WHERE g.rolname = ANY($1) AND pg_has_role(current_user, g.oid, 'MEMBER'))
		FROM pg_roles r WHERE r.rolname = current_user`, replicationGrantRoles(p)).Scan(&user, &super, &repl, &member)
	if err != nil {
		return "", fmt.Errorf("read role attributes: %w", err)
	}
	switch {
	case super:
		return fmt.Sprintf("role %s is a superuser", user), nil
	case repl:
		return fmt.Sprintf("role %s has the REPLICATION attribute", user), nil
	case member != nil:
		return fmt.Sprintf("role %s is a member of %s", user, *member), nil
	}
	return "", fmt.Errorf("role %q may not replicate on %s: %s", user, p, replicationFix(p, user))
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
