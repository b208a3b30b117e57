package capture

import (
	"context"
	"fmt"
	"slices"

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
	// Key lists the columns that identify a row, in index order: the
	// replica identity index under REPLICA IDENTITY USING INDEX, the
	// primary key otherwise. Empty when the table has neither.
	Key []string
	// Unique lists the column sets that no two rows share a value of: the
	// primary key and every valid unique index on plain columns without a
	// WHERE clause.
	Unique [][]string
}

// UniqueOn reports whether no two rows can match the same values of cols:
// a unique column set lies within them.
func (ti *TableInfo) UniqueOn(cols []string) bool {
	for _, set := range ti.Unique {
		within := true
		for _, c := range set {
			within = within && slices.Contains(cols, c)
		}
		if within {
			return true
		}
	}
	return false
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
		unique, err := uniqueColumnSets(ctx, conn, t)
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", t, err)
		}
		out[t] = &TableInfo{Table: t, Columns: cols, Key: key, Unique: unique}
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

// identityColumns lists the columns that identify a row of t and so make
// its document _id. Under REPLICA IDENTITY USING INDEX that is the index's
// columns, the only ones a delete carries. Otherwise it is the primary
// key, also under REPLICA IDENTITY FULL: there the old row carries every
// column, and a key made of all of them would change on every update,
// fail on a NULL and outgrow the engine's id limit. A table with neither
// has no key, which Compile and check refuse.
func identityColumns(ctx context.Context, conn *pgx.Conn, t Table) ([]string, error) {
	rows, err := conn.Query(ctx, `
		SELECT a.attname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_index i ON i.indrelid = c.oid
			AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
		WHERE n.nspname = $1 AND c.relname = $2
		ORDER BY array_position(i.indkey::int2[], a.attnum)`,
		t.Schema, t.Name)
	if err != nil {
		return nil, fmt.Errorf("read key columns: %w", err)
	}
	key, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read key columns: %w", err)
	}
	return key, nil
}

// uniqueColumnSets lists the column sets of t's unique indexes that hold
// for every row: not partial, not on expressions, and valid.
func uniqueColumnSets(ctx context.Context, conn *pgx.Conn, t Table) ([][]string, error) {
	rows, err := conn.Query(ctx, `
		SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
		WHERE n.nspname = $1 AND c.relname = $2
			AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
		GROUP BY i.indexrelid ORDER BY i.indexrelid`,
		t.Schema, t.Name)
	if err != nil {
		return nil, fmt.Errorf("read unique indexes: %w", err)
	}
	sets, err := pgx.CollectRows(rows, pgx.RowTo[[]string])
	if err != nil {
		return nil, fmt.Errorf("read unique indexes: %w", err)
	}
	return sets, nil
}
