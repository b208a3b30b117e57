package capture

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Column describes a table column as the catalog has it.
type Column struct {
	Name string
	// Type is the declared type as PostgreSQL prints it ("numeric(10,2)").
	Type string
	// Base is the type name after resolving domains and array elements
	// ("int8", "text", "timestamptz"); enums report "enum" and composite
	// types "composite".
	Base    string
	Array   bool
	NotNull bool
}

// TableInfo is what the catalog says about one table.
type TableInfo struct {
	Table   Table
	Columns []Column
	// Key lists the replica identity columns: the primary key by default.
	Key []string
}

// Column returns the named column, if the table has it.
func (ti *TableInfo) Column(name string) (Column, bool) {
	for _, c := range ti.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Describe reads the columns and keys of tables; a table that does not
// exist is absent from the result.
func Describe(ctx context.Context, conn *pgx.Conn, tables []Table) (map[Table]*TableInfo, error) {
	out := make(map[Table]*TableInfo, len(tables))
	for _, t := range tables {
		cols, err := describeColumns(ctx, conn, t)
		if err != nil {
			return nil, err
		}
		if len(cols) == 0 {
			continue
		}
		key, err := identityColumns(ctx, conn, t)
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", t, err)
		}
		out[t] = &TableInfo{Table: t, Columns: cols, Key: key}
	}
	return out, nil
}

func describeColumns(ctx context.Context, conn *pgx.Conn, t Table) ([]Column, error) {
	rows, err := conn.Query(ctx, `
		SELECT a.attname, format_type(a.atttypid, a.atttypmod),
			CASE coalesce(et.typtype, bt.typtype) WHEN 'e' THEN 'enum' WHEN 'c' THEN 'composite'
				ELSE coalesce(et.typname, bt.typname)::text END,
			et.oid IS NOT NULL, a.attnotnull
		FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_type t ON t.oid = a.atttypid
		JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
		LEFT JOIN pg_type de ON bt.typcategory = 'A' AND de.oid = bt.typelem
		LEFT JOIN pg_type et ON et.oid = CASE WHEN de.typtype = 'd' THEN de.typbasetype ELSE de.oid END
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, t.Schema, t.Name)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", t, err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Column, error) {
		var c Column
		err := r.Scan(&c.Name, &c.Type, &c.Base, &c.Array, &c.NotNull)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", t, err)
	}
	return cols, nil
}
