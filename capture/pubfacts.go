package capture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// createdMark starts the comment projector puts on the publications it
// creates: only those may have their options changed by projector, since
// another owner's publication may serve other subscribers.
const createdMark = "created by projector"

// pubFacts is what the catalog says about a publication and the tables a
// source needs from it.
type pubFacts struct {
	name    string
	version int // server_version_num
	exists  bool
	owner   string
	// ours says projector created the publication (its comment says so).
	ours      bool
	allTables bool
	schemas   []string // FOR TABLES IN SCHEMA (15+)
	insert    bool
	update    bool
	delete    bool
	truncate  bool
	viaRoot   bool // publish_via_partition_root (13+)
	// storedGenerated says stored generated columns are published
	// (publish_generated_columns = stored, 18+).
	storedGenerated bool
	// published holds, for the source's tables and their ancestors, how
	// the publication sends them: a table absent from it is not sent under
	// its own name.
	published map[Table]pubTable
	// tables holds the shape of each of the source's tables that exists.
	tables map[Table]tableShape
}

// pubTable is one table as a publication sends it.
type pubTable struct {
	rowFilter string   // the WHERE clause, "" when every row is sent
	columns   []string // the column list, nil when every column is sent
}

// tableShape is what matters about a table for publishing it.
type tableShape struct {
	partitioned bool
	partitions  int // leaf partitions of a partitioned table
	// ancestors are the partitioned tables a partition belongs to, its
	// direct parent first.
	ancestors []Table
	columns   []string
	// generated maps each generated column to its kind: 's' stored,
	// 'v' virtual (18+).
	generated map[string]byte
}

// readPubFacts reads what the catalog says about publication name and
// tables.
func readPubFacts(ctx context.Context, conn *pgx.Conn, name string, tables []Table) (*pubFacts, error) {
	f := &pubFacts{name: name, published: map[Table]pubTable{}, tables: map[Table]tableShape{}}
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&f.version); err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	for _, t := range tables {
		shape, ok, err := readTableShape(ctx, conn, t)
		if err != nil {
			return nil, err
		}
		if ok {
			f.tables[t] = shape
		}
	}
	viaRoot, genCols := "false", "false"
	if f.version >= 130000 {
		viaRoot = "p.pubviaroot"
	}
	if f.version >= 180000 {
		genCols = "p.pubgencols = 's'"
	}
	var oid uint32
	var comment *string
	err := conn.QueryRow(ctx, `SELECT p.oid, pg_get_userbyid(p.pubowner), p.puballtables,
			p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, `+viaRoot+`, `+genCols+`,
			obj_description(p.oid, 'pg_publication')
		FROM pg_publication p WHERE p.pubname = $1`, name).
		Scan(&oid, &f.owner, &f.allTables, &f.insert, &f.update, &f.delete, &f.truncate, &f.viaRoot, &f.storedGenerated, &comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read publication %q: %w", name, err)
	}
	f.exists = true
	f.ours = comment != nil && strings.HasPrefix(*comment, createdMark)
	if f.version >= 150000 {
		rows, err := conn.Query(ctx, `SELECT n.nspname::text FROM pg_publication_namespace pn
			JOIN pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = $1 ORDER BY 1`, oid)
		if err != nil {
			return nil, fmt.Errorf("read schemas of publication %q: %w", name, err)
		}
		if f.schemas, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, fmt.Errorf("read schemas of publication %q: %w", name, err)
		}
	}
	if err := f.readPublished(ctx, conn, oid); err != nil {
		return nil, err
	}
	return f, nil
}

// readPublished fills f.published for the source's tables and their
// ancestors.
func (f *pubFacts) readPublished(ctx context.Context, conn *pgx.Conn, oid uint32) error {
	var schemas, names []string
	for t, shape := range f.tables {
		for _, r := range append([]Table{t}, shape.ancestors...) {
			schemas, names = append(schemas, r.Schema), append(names, r.Name)
		}
	}
	filter, columns := "''", "NULL::text[]"
	if f.version >= 150000 {
		filter = "coalesce(pt.rowfilter, '')"
		columns = `(SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_publication_rel pr
			JOIN pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = ANY (pr.prattrs)
			WHERE pr.prpubid = $1 AND pr.prrelid = c.oid AND pr.prattrs IS NOT NULL)`
	}
	rows, err := conn.Query(ctx, `SELECT pt.schemaname::text, pt.tablename::text, `+filter+`, `+columns+`
		FROM pg_publication_tables pt
		JOIN pg_namespace n ON n.nspname = pt.schemaname
		JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
		WHERE pt.pubname = (SELECT pubname FROM pg_publication WHERE oid = $1)
			AND (pt.schemaname, pt.tablename) IN (SELECT * FROM unnest($2::text[], $3::text[]))`, oid, schemas, names)
	if err != nil {
		return fmt.Errorf("list tables of publication %q: %w", f.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t Table
		var pt pubTable
		if err := rows.Scan(&t.Schema, &t.Name, &pt.rowFilter, &pt.columns); err != nil {
			return fmt.Errorf("list tables of publication %q: %w", f.name, err)
		}
		f.published[t] = pt
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tables of publication %q: %w", f.name, err)
	}
	return nil
}

// readTableShape reads whether t is partitioned or a partition, and its
// generated columns; ok is false when the table does not exist.
func readTableShape(ctx context.Context, conn *pgx.Conn, t Table) (tableShape, bool, error) {
	var s tableShape
	var kind string
	var ancSchemas, ancNames, cols, genNames, genKinds []string
	err := conn.QueryRow(ctx, `SELECT c.relkind::text,
			CASE WHEN c.relkind = 'p' THEN (SELECT count(*) FROM pg_partition_tree(c.oid) WHERE isleaf) ELSE 0 END,
			array(SELECT an.nspname::text FROM pg_partition_ancestors(c.oid) WITH ORDINALITY x(relid, i)
				JOIN pg_class ac ON ac.oid = x.relid JOIN pg_namespace an ON an.oid = ac.relnamespace
				WHERE x.relid <> c.oid ORDER BY x.i),
			array(SELECT ac.relname::text FROM pg_partition_ancestors(c.oid) WITH ORDINALITY x(relid, i)
				JOIN pg_class ac ON ac.oid = x.relid
				WHERE x.relid <> c.oid ORDER BY x.i),
			array(SELECT a.attname::text FROM pg_attribute a
				WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
			array(SELECT a.attname::text FROM pg_attribute a
				WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> '' ORDER BY a.attnum),
			array(SELECT a.attgenerated::text FROM pg_attribute a
				WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> '' ORDER BY a.attnum)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, t.Schema, t.Name).
		Scan(&kind, &s.partitions, &ancSchemas, &ancNames, &cols, &genNames, &genKinds)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("inspect table %s: %w", t, err)
	}
	s.partitioned = kind == "p"
	s.columns = cols
	for i := range ancSchemas {
		s.ancestors = append(s.ancestors, Table{Schema: ancSchemas[i], Name: ancNames[i]})
	}
	for i, name := range genNames {
		if s.generated == nil {
			s.generated = map[string]byte{}
		}
		s.generated[name] = genKinds[i][0]
	}
	return s, true, nil
}
