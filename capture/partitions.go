package capture

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Partitions returns, for each of tables that is partitioned, its leaf
// partitions as "schema.name", sorted; other tables are absent. Attaching
// or detaching a partition writes nothing to the WAL for the rows it
// carries, so whoever keeps a copy of the table learns of it only here.
func Partitions(ctx context.Context, conn *pgx.Conn, tables []Table) (map[Table][]string, error) {
	schemas, names := make([]string, len(tables)), make([]string, len(tables))
	for i, t := range tables {
		schemas[i], names[i] = t.Schema, t.Name
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname::text, c.relname::text,
			array(SELECT ln.nspname || '.' || lc.relname FROM pg_partition_tree(c.oid) pt
				JOIN pg_class lc ON lc.oid = pt.relid JOIN pg_namespace ln ON ln.oid = lc.relnamespace
				WHERE pt.isleaf ORDER BY 1)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'p' AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, schemas, names)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	defer rows.Close()
	out := map[Table][]string{}
	for rows.Next() {
		var t Table
		var leaves []string
		if err := rows.Scan(&t.Schema, &t.Name, &leaves); err != nil {
			return nil, fmt.Errorf("list partitions: %w", err)
		}
		out[t] = leaves
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	return out, nil
}
