package fooddelivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what both a pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// execer is what both a pool and a transaction offer for statements.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// reserveIDs takes n values from a table's id sequence, so rows can be
// copied in with their ids known beforehand and later inserts that use the
// sequence never collide with them.
func reserveIDs(ctx context.Context, q querier, table string, n int) ([]int64, error) {
	sql := fmt.Sprintf("SELECT nextval(pg_get_serial_sequence('%s', 'id')) FROM generate_series(1, $1)", table)
	rows, err := q.Query(ctx, sql, n)
	if err != nil {
		return nil, fmt.Errorf("reserve %d %s ids: %w", n, table, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reserve %d %s ids: %w", n, table, err)
	}
	return ids, nil
}

// errNoRow means that a table (or the part of it asked for) has no rows.
var errNoRow = errors.New("no row to act on")

// randomID returns the id of a row of table that matches filter (an SQL
// condition, "true" for any row), chosen at or after the point u (in [0, 1))
// between the table's smallest and largest id, or else the last match. Gaps
// make the choice uneven, which is fine for a workload, and it costs index
// look-ups instead of a scan. It returns errNoRow when nothing matches.
func randomID(ctx context.Context, q querier, table, filter string, u float64) (int64, error) {
	sql := fmt.Sprintf(`SELECT id FROM (
		(SELECT id FROM %[1]s WHERE (%[2]s) AND id >=
			(SELECT min(id) + floor($1::float8 * (max(id) - min(id) + 1))::bigint FROM %[1]s)
		 ORDER BY id LIMIT 1)
		UNION ALL
		(SELECT id FROM %[1]s WHERE (%[2]s) ORDER BY id DESC LIMIT 1)) AS c LIMIT 1`, table, filter)
	var id int64
	err := q.QueryRow(ctx, sql, u).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, errNoRow
	}
	if err != nil {
		return 0, fmt.Errorf("pick a row of %s: %w", table, err)
	}
	return id, nil
}
