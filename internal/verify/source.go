package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// connect opens a connection to a source with the session settings the
// normaliser expects (UTC, ISO dates, hex bytea, postgres intervals). Errors
// name the source by its redacted DSN only.
func connect(ctx context.Context, src config.Source) (*pgx.Conn, error) {
	pc, err := pgx.ParseConfig(src.DSN)
	if err != nil {
		return nil, fmt.Errorf("source %q (%s): the DSN does not parse", src.Name, src.RedactedDSN())
	}
	for k, v := range map[string]string{
		"TimeZone": "UTC", "DateStyle": "ISO, YMD", "IntervalStyle": "postgres",
		"bytea_output": "hex", "extra_float_digits": "1", "application_name": "projector verify",
	} {
		pc.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to source %q (%s): %w", src.Name, src.RedactedDSN(), redactErr(err, pc.Password))
	}
	return conn, nil
}

// redactErr makes sure a password never travels inside an error message.
func redactErr(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), password, "xxxxx"))
}

// describe reads the catalog entries of tables, all from one source.
func describe(ctx context.Context, conn *pgx.Conn, tables []config.TableRef, into catalog) error {
	capt := make([]capture.Table, len(tables))
	for i, t := range tables {
		capt[i] = capture.Table{Schema: t.Schema, Name: t.Name}
	}
	infos, err := capture.Describe(ctx, conn, capt)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if info := infos[capture.Table{Schema: t.Schema, Name: t.Name}]; info != nil {
			into[t] = info
		}
	}
	return nil
}

// tableData is one table as read, values already normalised.
type tableData struct {
	cols   []string
	colIdx map[string]int
	rows   [][]any
	// keys holds each row's key column values as PostgreSQL wrote them,
	// which is what document IDs are made of.
	keys [][]string
	// indexes find rows by join columns: signature -> join value -> rows in
	// primary-key order.
	indexes map[string]map[string][]int
}

// textCast is the cast that makes to_jsonb render a column as projector
// writes it: composite values are their row literal text, not an object.
func textCast(col capture.Column) string {
	switch {
	case col.Base != "composite":
		return ""
	case col.Array:
		return "::text[]"
	default:
		return "::text"
	}
}

// loadTable reads the named columns of every row in primary-key order.
// Each value is read as to_jsonb, whose form the normaliser understands.
// A filter, when given, is a JSON array of objects keyed by filterCols:
// only rows whose columns equal one of them are read. PostgreSQL converts
// the JSON values to the table's column types.
func loadTable(ctx context.Context, tx pgx.Tx, info *capture.TableInfo, cols []string,
	filterCols []string, filter []byte) (*tableData, error) {
	td, _, err := readTable(ctx, tx, info, cols, tableQuery{filterCols: filterCols, filter: filter})
	return td, err
}

// tableQuery narrows a read of a table: to the rows a filter names (see
// loadTable), or to a page of at most limit rows whose keys follow after,
// the text form of a key as readTable returns it.
type tableQuery struct {
	filterCols []string
	filter     []byte
	after      []string
	limit      int
}

// readTable reads the named columns of the rows q selects in primary-key
// order, and, for a page, the text form of the last row's key.
func readTable(ctx context.Context, tx pgx.Tx, info *capture.TableInfo, cols []string, q tableQuery) (*tableData, []string, error) {
	filterCols, filter := q.filterCols, q.filter
	td := &tableData{cols: cols, colIdx: map[string]int{}, indexes: map[string]map[string][]int{}}
	sel := make([]string, len(cols))
	types := make([]colType, len(cols))
	for i, c := range cols {
		td.colIdx[c] = i
		col, _ := info.Column(c)
		sel[i] = fmt.Sprintf("coalesce(to_jsonb(q.%s%s), 'null')::text", pgx.Identifier{c}.Sanitize(), textCast(col))
		types[i] = colType{Base: col.Base, Array: col.Array}
	}
	order := make([]string, len(info.Key))
	for i, k := range info.Key {
		order[i] = "q." + pgx.Identifier{k}.Sanitize()
	}
	table := pgx.Identifier{info.Table.Schema, info.Table.Name}.Sanitize()
	where, args := "", []any{}
	if filter != nil {
		q, f := make([]string, len(filterCols)), make([]string, len(filterCols))
		for i, c := range filterCols {
			q[i], f[i] = "q."+pgx.Identifier{c}.Sanitize(), "f."+pgx.Identifier{c}.Sanitize()
		}
		where = fmt.Sprintf(" WHERE (%s) IN (SELECT %s FROM jsonb_populate_recordset(NULL::%s, $1::jsonb) f)",
			strings.Join(q, ", "), strings.Join(f, ", "), table)
		args = append(args, string(filter))
	}
	limit := ""
	if q.limit > 0 {
		// A page: the key columns' text forms follow the values, so that
		// the next page can start after the last row whatever the key's
		// types; every type reads its text form back as the same value.
		after := make([]string, len(info.Key))
		for i, k := range info.Key {
			sel = append(sel, "q."+pgx.Identifier{k}.Sanitize()+"::text")
			col, _ := info.Column(k)
			after[i] = fmt.Sprintf("CAST($%d::text AS %s)", len(args)+i+1, col.Type)
		}
		if q.after != nil {
			cond := fmt.Sprintf("(%s) > (%s)", strings.Join(order, ", "), strings.Join(after, ", "))
			if where == "" {
				where = " WHERE " + cond
			} else {
				where += " AND " + cond
			}
			for _, a := range q.after {
				args = append(args, a)
			}
		}
		limit = fmt.Sprintf(" LIMIT %d", q.limit)
	}
	sql := fmt.Sprintf("SELECT %s FROM %s q%s ORDER BY %s%s", strings.Join(sel, ", "), table, where, strings.Join(order, ", "), limit)
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", info.Table, err)
	}
	defer rows.Close()
	raw := make([]string, len(sel))
	dest := make([]any, len(sel))
	for i := range raw {
		dest[i] = &raw[i]
	}
	var last []string
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", info.Table, err)
		}
		if err := td.add(info.Key, types, raw[:len(cols)]); err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", info.Table, err)
		}
		if q.limit > 0 {
			last = append(last[:0], raw[len(cols):]...)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", info.Table, err)
	}
	return td, last, nil
}

func (td *tableData) add(key []string, types []colType, raw []string) error {
	row := make([]any, len(raw))
	for i, r := range raw {
		v, err := decodeJSON([]byte(r))
		if err != nil {
			return fmt.Errorf("column %s: %w", td.cols[i], err)
		}
		row[i] = canon(types[i], v)
	}
	k := make([]string, len(key))
	for i, c := range key {
		k[i] = raw[td.colIdx[c]]
	}
	td.rows = append(td.rows, row)
	td.keys = append(td.keys, k)
	return nil
}
