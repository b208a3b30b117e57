package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DropDatabase removes a database's replication slots, then the database,
// through a connection to adminDSN. An active slot or connection would
// otherwise keep the database alive, and a walsender that was just
// terminated takes a moment to release its slot. Tests and the benchmarks
// use it to leave the servers as they found them.
func DropDatabase(ctx context.Context, adminDSN, name string) error {
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	defer admin.Close(ctx)
	for attempt := 0; ; attempt++ {
		err = dropSlots(ctx, admin, name)
		if err == nil || attempt == 50 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err == nil {
		_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func dropSlots(ctx context.Context, admin *pgx.Conn, db string) error {
	_, err := admin.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
		WHERE database = $1 AND active_pid IS NOT NULL`, db)
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		WHERE database = $1`, db)
	return err
}

// PGBin finds a PostgreSQL program: in PG_BINDIR when set and holding it,
// then pg_config's bindir, then the Debian layout (the newest version
// installed).
func PGBin(name string) (string, error) {
	// The version matrix points PG_BINDIR at the server version under test;
	// deploy/local/pg.sh follows it too. The builds it downloads bring only
	// the server, so client programs still come from the machine.
	if dir := os.Getenv("PG_BINDIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		return "", fmt.Errorf("%s not found: install the PostgreSQL server and client programs", name)
	}
	return matches[len(matches)-1], nil
}
