package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/internal/testbed"
)

// DrainSize is the backlog the drain benchmark writes into its slots.
type DrainSize struct {
	// BulkRows rows are inserted, then updated, in transactions of Batch
	// rows each.
	BulkRows int
	Batch    int
	// PgbenchTxns TPC-B-like transactions (three updates and an insert
	// each) are run by pgbench with PgbenchClients connections.
	PgbenchTxns    int
	PgbenchClients int
	// Rounds is how many times each contender drains; the order of the
	// contenders rotates from round to round.
	Rounds int
}

// Changes is the number of row changes the backlog holds.
func (s DrainSize) Changes() int { return 2*s.BulkRows + 4*s.PgbenchTxns + 1 }

const drainPublication = "bench_drain"

// drainTables lists the published tables; bench_end receives one row
// after everything else, and its commit is where every contender stops.
var drainTables = []string{"bench_rows", "pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history", "bench_end"}

// prepareDrain creates the schema, then the slots, all at one LSN, then
// the backlog. It returns the slot names and the WAL position after the
// last commit.
func prepareDrain(ctx context.Context, db *Database, size DrainSize, slots int) ([]string, string, error) {
	pgbench, err := testbed.PGBin("pgbench")
	if err != nil {
		return nil, "", err
	}
	if err := runPgbench(ctx, pgbench, db, "-i", "-q", "-s", "1"); err != nil {
		return nil, "", err
	}
	err = db.Exec(ctx, `CREATE TABLE bench_rows (id int8 PRIMARY KEY, customer text, total numeric,
			placed_at timestamptz, paid bool, items jsonb);
		CREATE TABLE bench_end (id int PRIMARY KEY);
		-- pgbench's history table has no key; projector needs one to
		-- identify rows, as every user table in a view does.
		ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY;
		CREATE PUBLICATION `+drainPublication+` FOR TABLE bench_rows, pgbench_accounts, pgbench_branches,
			pgbench_tellers, pgbench_history, bench_end`)
	if err != nil {
		return nil, "", err
	}
	names, err := createSlots(ctx, db, slots)
	if err != nil {
		return nil, "", err
	}
	if err := writeBacklog(ctx, db, pgbench, size); err != nil {
		return nil, "", err
	}
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		return nil, "", fmt.Errorf("connect to %s: %w", db.Name, err)
	}
	defer conn.Close(ctx)
	var end string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&end); err != nil {
		return nil, "", fmt.Errorf("read the WAL position after the backlog: %w", err)
	}
	return names, end, nil
}

// createSlots creates one slot and copies it, so that every copy starts at
// exactly the same position: creating each would wait for the server's
// running transactions every time, and start wherever that ends.
func createSlots(ctx context.Context, db *Database, n int) ([]string, error) {
	first := db.Name + "_0"
	if err := db.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", first); err != nil {
		return nil, err
	}
	names := []string{first}
	for i := 1; i < n; i++ {
		name := db.Name + "_" + strconv.Itoa(i)
		if err := db.Exec(ctx, "SELECT pg_copy_logical_replication_slot($1, $2)", first, name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

func writeBacklog(ctx context.Context, db *Database, pgbench string, size DrainSize) error {
	for lo := 1; lo <= size.BulkRows; lo += size.Batch {
		hi := min(lo+size.Batch-1, size.BulkRows)
		err := db.Exec(ctx, `INSERT INTO bench_rows SELECT g, 'customer ' || g, g * 1.25, now(), g % 2 = 0,
			jsonb_build_object('sku', 'A-' || g, 'qty', 2, 'price', g * 0.625)
			FROM generate_series($1::int8, $2::int8) g`, lo, hi)
		if err != nil {
			return err
		}
	}
	for lo := 1; lo <= size.BulkRows; lo += size.Batch {
		hi := min(lo+size.Batch-1, size.BulkRows)
		if err := db.Exec(ctx, `UPDATE bench_rows SET total = total + 1, paid = NOT paid WHERE id BETWEEN $1 AND $2`, lo, hi); err != nil {
			return err
		}
	}
	perClient := max(size.PgbenchTxns/size.PgbenchClients, 1)
	if err := runPgbench(ctx, pgbench, db, "-n", "-c", strconv.Itoa(size.PgbenchClients),
		"-j", strconv.Itoa(size.PgbenchClients), "-t", strconv.Itoa(perClient)); err != nil {
		return err
	}
	return db.Exec(ctx, "INSERT INTO bench_end VALUES (1)")
}

func runPgbench(ctx context.Context, pgbench string, db *Database, args ...string) error {
	out, err := exec.CommandContext(ctx, pgbench, append(args, db.DSN)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgbench %v on %s: %w\n%s", args, db.Name, err, out)
	}
	return nil
}
