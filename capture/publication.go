package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pubPlan is what a source's publication lacks and what is done about it.
type pubPlan struct {
	// statements make the publication fit, in order; only in managed mode.
	statements []string
	// problems are what projector may not or cannot fix, each with the fix.
	problems []pubProblem
	// warnings are worth knowing but do not stop the source.
	warnings []string
}

// pubProblem is one thing that keeps a publication from serving the
// views; table is zero when it is about the publication as a whole.
type pubProblem struct {
	table Table
	err   error
}

func (p *pubPlan) problem(t Table, format string, args ...any) {
	p.problems = append(p.problems, pubProblem{table: t, err: fmt.Errorf(format, args...)})
}

// err joins the problems into one error, or returns nil.
func (p *pubPlan) err(src Source) error {
	if len(p.problems) == 0 {
		return nil
	}
	errs := make([]error, len(p.problems))
	for i, pr := range p.problems {
		errs[i] = pr.err
	}
	return fmt.Errorf("source %q: publication %q does not serve the views:\n%w", src.Name, src.PublicationName(), errors.Join(errs...))
}

// publishAll is what projector's own publications publish: every
// operation, since the views follow every change.
const publishAll = "insert, update, delete, truncate"

// planPublication compares what the catalog says about the source's
// publication with what its views need. In managed mode, projector may
// create the publication and add tables to it, and may change the options
// of a publication it created; it never removes a table, and never changes
// the options of a publication someone else created, since other
// subscribers may depend on them. In existing mode it changes nothing.
func planPublication(f *pubFacts, src Source) pubPlan {
	p := planChanges(f, src)
	if len(p.problems) > 0 {
		p.statements = nil // a publication that cannot serve the views is left as it is
	}
	return p
}

func planChanges(f *pubFacts, src Source) pubPlan {
	var p pubPlan
	managed := !src.ExistingPublication
	q := pgx.Identifier{f.name}.Sanitize()
	needGenerated := p.checkGenerated(f, src)

	if !f.exists {
		if !managed {
			p.problem(Table{}, "publication %q does not exist (publication_mode: existing): have its owner run CREATE PUBLICATION %s FOR TABLE %s WITH (publish_via_partition_root = true), or set publication_mode: managed to let projector create it",
				f.name, q, quotedTables(src.Tables))
			return p
		}
		for _, t := range src.Tables {
			if shape, ok := f.tables[t]; ok {
				p.checkLeafWithRoot(f, src, t, shape)
			}
		}
		with := []string{"publish = '" + publishAll + "'", "publish_via_partition_root = true"}
		if f.version >= 180000 {
			with = append(with, "publish_generated_columns = stored")
		}
		var present []Table // a missing table is reported by the prerequisites
		for _, t := range src.Tables {
			if _, ok := f.tables[t]; ok {
				present = append(present, t)
			}
		}
		forTables := ""
		if len(present) > 0 {
			forTables = " FOR TABLE " + quotedTables(present)
		}
		p.statements = append(p.statements,
			"CREATE PUBLICATION "+q+forTables+" WITH ("+strings.Join(with, ", ")+")",
			"COMMENT ON PUBLICATION "+q+" IS "+quoteLiteral(createdMark+" for source "+src.Name+"; projector may change its options and add tables to it"))
		return p
	}

	fixable := managed && f.ours
	// A publication an earlier projector created carries no mark; its
	// owner can hand it over instead of fixing it by hand.
	handOver := ""
	if managed {
		handOver = fmt.Sprintf(" (or, if projector created it, hand it back with COMMENT ON PUBLICATION %s IS '%s' and projector fixes it)", q, createdMark)
	}
	var set []string
	var missingOps []string
	for _, op := range []struct {
		name string
		on   bool
	}{{"insert", f.insert}, {"update", f.update}, {"delete", f.delete}} {
		if !op.on {
			missingOps = append(missingOps, op.name)
		}
	}
	switch {
	case fixable && (len(missingOps) > 0 || !f.truncate):
		set = append(set, "publish = '"+publishAll+"'")
	case len(missingOps) > 0:
		p.problem(Table{}, "publication %q does not publish %s, so the views would miss those changes: have its owner run ALTER PUBLICATION %s SET (publish = '%s')%s",
			f.name, strings.Join(missingOps, ", "), q, publishAll, handOver)
	case !f.truncate:
		p.warnings = append(p.warnings, fmt.Sprintf("publication %q does not publish truncate: a TRUNCATE leaves the table's documents in place until the view is rebuilt; ALTER PUBLICATION %s SET (publish = '%s') sends it",
			f.name, q, publishAll))
	}
	partitioned := false
	for _, shape := range f.tables {
		partitioned = partitioned || shape.partitioned
	}
	switch {
	case f.viaRoot:
	case fixable:
		set = append(set, "publish_via_partition_root = true")
	case partitioned:
		p.problem(Table{}, "publication %q publishes the changes of partitioned tables under their partitions' names, which no view uses: have its owner run ALTER PUBLICATION %s SET (publish_via_partition_root = true)%s",
			f.name, q, handOver)
	}
	if needGenerated && !f.storedGenerated {
		if fixable {
			set = append(set, "publish_generated_columns = stored")
		} else {
			p.problem(Table{}, "publication %q does not send stored generated columns, which the views read: have its owner run ALTER PUBLICATION %s SET (publish_generated_columns = stored)%s",
				f.name, q, handOver)
		}
	}
	if len(set) > 0 {
		p.statements = append(p.statements, "ALTER PUBLICATION "+q+" SET ("+strings.Join(set, ", ")+")")
	}

	var missing []Table
	for _, t := range src.Tables {
		shape, ok := f.tables[t]
		if !ok {
			continue // the prerequisites report a missing table
		}
		if pt, ok := f.published[t]; ok {
			p.checkFilters(f, src, t, shape, pt)
			continue
		}
		if p.checkLeafWithRoot(f, src, t, shape) {
			continue
		}
		if shape.partitioned && !f.viaRoot {
			continue // reported above, or sent under its name once the option is set
		}
		missing = append(missing, t)
	}
	switch {
	case len(missing) == 0:
	case managed && !f.allTables:
		p.statements = append(p.statements, "ALTER PUBLICATION "+q+" ADD TABLE "+quotedTables(missing))
	default:
		for _, t := range missing {
			p.problem(t, "publication %q does not publish table %s: have its owner run ALTER PUBLICATION %s ADD TABLE %s, or name a publication that covers it",
				f.name, t, q, t.quoted())
		}
	}
	return p
}

// checkGenerated refuses generated columns the views read but the server
// does not send, and reports whether the views read stored generated
// columns that PostgreSQL 18 sends when the publication asks for them.
// Without this a generated column is in the snapshot and gone from the
// document after the row's first change.
func (p *pubPlan) checkGenerated(f *pubFacts, src Source) bool {
	need := false
	for _, t := range src.Tables {
		shape, ok := f.tables[t]
		if !ok {
			continue
		}
		cols, listed := src.Columns[t]
		if !listed {
			cols = shape.columns
		}
		for _, c := range cols {
			switch kind, ok := shape.generated[c]; {
			case !ok:
			case kind == 'v':
				p.problem(t, "column %s of table %s is a virtual generated column, which logical replication never sends, so its value would vanish from the document at the row's first change: leave it out of the view's fields (list the columns the view shows), or make it GENERATED ALWAYS AS (...) STORED on PostgreSQL 18",
					c, t)
			case f.version < 180000:
				p.problem(t, "column %s of table %s is a generated column, which PostgreSQL %d does not send in logical replication, so its value would vanish from the document at the row's first change: leave it out of the view's fields (list the columns the view shows), or upgrade to PostgreSQL 18, which sends stored generated columns",
					c, t, f.version/10000)
			default:
				need = true
			}
		}
	}
	return need
}

// checkLeafWithRoot refuses a view table that is a partition whose
// changes the publication sends under the name of a partitioned table it
// belongs to (publish_via_partition_root): no change would ever arrive
// under the partition's own name.
func (p *pubPlan) checkLeafWithRoot(f *pubFacts, src Source, t Table, shape tableShape) bool {
	for _, a := range shape.ancestors {
		_, published := f.published[a]
		if (f.exists && f.viaRoot && published) || (!f.exists && slices.Contains(src.Tables, a)) {
			p.problem(t, "table %s is a partition of %s, and publication %q sends its changes as changes of %s (publish_via_partition_root): name %s in the view instead of the partition",
				t, a, f.name, a, a)
			return true
		}
	}
	return false
}

// checkFilters refuses a row filter, which hides rows from the views, and
// a column list that leaves out a column the views read.
func (p *pubPlan) checkFilters(f *pubFacts, src Source, t Table, shape tableShape, pt pubTable) {
	q := pgx.Identifier{f.name}.Sanitize()
	fix := fmt.Sprintf("ALTER PUBLICATION %s DROP TABLE %s; ALTER PUBLICATION %s ADD TABLE %s", q, t.quoted(), q, t.quoted())
	if pt.rowFilter != "" {
		p.problem(t, "publication %q sends only the rows of %s WHERE %s, so the views would miss the others: have its owner run %s to send every row",
			f.name, t, pt.rowFilter, fix)
	}
	if pt.columns == nil {
		return
	}
	need, listed := src.Columns[t]
	if !listed {
		need = shape.columns
	}
	var hidden []string
	for _, c := range need {
		if !slices.Contains(pt.columns, c) {
			hidden = append(hidden, c)
		}
	}
	if len(hidden) > 0 {
		p.problem(t, "publication %q sends only the columns %s of %s, not %s that the views read: have its owner run %s to send every column, or leave those columns out of the views",
			f.name, strings.Join(pt.columns, ", "), t, strings.Join(hidden, ", "), fix)
	}
}

// ensurePublication makes the source's publication serve its views, or
// returns a permanent error saying what is wrong and how to fix it: no
// retry changes another owner's publication.
func ensurePublication(ctx context.Context, conn *pgx.Conn, src Source, log *slog.Logger) error {
	name := src.PublicationName()
	// Each round applies what the catalog showed; a change can reveal the
	// next (a partitioned table is listed under its own name only once the
	// publication sends changes via the root), so a few rounds settle it.
	for range 3 {
		f, err := readPubFacts(ctx, conn, name, src.Tables)
		if err != nil {
			return err
		}
		plan := planPublication(f, src)
		if err := plan.err(src); err != nil {
			return permanent(err)
		}
		if len(plan.statements) == 0 {
			for _, w := range plan.warnings {
				log.Warn("publication does not send everything", "publication", name, "problem", w)
			}
			return nil
		}
		if err := execPublication(ctx, conn, plan.statements); err != nil {
			return err
		}
		log.Info("changed publication", "publication", name, "statements", strings.Join(plan.statements, "; "))
	}
	return permanent(fmt.Errorf("source %q: publication %q still differs from what the views need after changing it; check what else alters it", src.Name, name))
}

// execPublication runs statements in one transaction. A server error is
// permanent unless it is one a retry can outlive (a lost connection, a
// shutdown, a conflict), so a refused change is reported once.
func execPublication(ctx context.Context, conn *pgx.Conn, statements []string) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, s := range statements {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", "40", "53", "57":
			return fmt.Errorf("change publication: %w", err)
		}
		return permanent(fmt.Errorf("change publication: %w; run it as the publication's owner or a superuser, or set publication_mode: existing and have its owner make it cover the views' tables", err))
	}
	return fmt.Errorf("change publication: %w", err)
}

// PublicationCheck is one line of what `projector check` reports about a
// source's publication: Detail says what was found, Err what is wrong.
type PublicationCheck struct {
	Name   string
	Detail string
	Err    error
}

// CheckPublication reports, without changing anything, what the source's
// publication covers, which operations it sends, how it sends partitioned
// tables, what `run` would change in it, and every problem with its fix.
func CheckPublication(ctx context.Context, conn *pgx.Conn, src Source) []PublicationCheck {
	name := src.PublicationName()
	head := PublicationCheck{Name: "publication " + name + " serves the views"}
	f, err := readPubFacts(ctx, conn, name, src.Tables)
	if err != nil {
		head.Err = err
		return []PublicationCheck{head}
	}
	plan := planPublication(f, src)
	head.Detail = describePublication(f, src)
	if len(plan.statements) > 0 {
		head.Detail += "; run will execute: " + strings.Join(plan.statements, "; ")
	}
	for _, w := range plan.warnings {
		head.Detail += "; warning: " + w
	}
	var general []error
	byTable := map[Table][]error{}
	for _, pr := range plan.problems {
		if pr.table == (Table{}) {
			general = append(general, pr.err)
		} else {
			byTable[pr.table] = append(byTable[pr.table], pr.err)
		}
	}
	head.Err = errors.Join(general...)
	out := []PublicationCheck{head}
	for _, t := range src.Tables {
		shape, ok := f.tables[t]
		if !ok {
			continue // the prerequisites report a missing table
		}
		out = append(out, PublicationCheck{Name: "table " + t.String() + " is published",
			Detail: describeTable(f, t, shape), Err: errors.Join(byTable[t]...)})
	}
	return out
}

func describePublication(f *pubFacts, src Source) string {
	if !f.exists {
		return "does not exist yet"
	}
	var parts []string
	switch {
	case f.allTables:
		parts = append(parts, "FOR ALL TABLES")
	case len(f.schemas) > 0:
		parts = append(parts, "FOR TABLES IN SCHEMA "+strings.Join(f.schemas, ", "))
	default:
		parts = append(parts, "FOR a list of tables")
	}
	owner := "owned by " + f.owner
	switch {
	case src.ExistingPublication:
		owner += ", used as it is (publication_mode: existing)"
	case f.ours:
		owner += ", created by projector"
	default:
		owner += ", not created by projector: only tables are added to it, its options are never changed"
	}
	parts = append(parts, owner)
	var ops []string
	for _, op := range []struct {
		name string
		on   bool
	}{{"insert", f.insert}, {"update", f.update}, {"delete", f.delete}, {"truncate", f.truncate}} {
		if op.on {
			ops = append(ops, op.name)
		}
	}
	parts = append(parts, "publishes "+strings.Join(ops, ", "))
	if f.viaRoot {
		parts = append(parts, "partitioned tables published via their root")
	}
	if f.storedGenerated {
		parts = append(parts, "stored generated columns published")
	}
	return strings.Join(parts, "; ")
}

func describeTable(f *pubFacts, t Table, shape tableShape) string {
	var parts []string
	switch {
	case shape.partitioned:
		parts = append(parts, fmt.Sprintf("partitioned table with %d partitions", shape.partitions))
	case len(shape.ancestors) > 0:
		parts = append(parts, "partition of "+shape.ancestors[0].String())
	}
	_, published := f.published[t]
	switch {
	case published && shape.partitioned && f.viaRoot:
		parts = append(parts, "published via root")
	case published:
		parts = append(parts, "published")
	default:
		parts = append(parts, "not published yet")
	}
	if len(shape.generated) > 0 {
		names := make([]string, 0, len(shape.generated))
		for c := range shape.generated {
			names = append(names, c)
		}
		slices.Sort(names)
		parts = append(parts, "generated columns: "+strings.Join(names, ", "))
	}
	return strings.Join(parts, ", ")
}

func quotedTables(tables []Table) string {
	q := make([]string, len(tables))
	for i, t := range tables {
		q[i] = t.quoted()
	}
	return strings.Join(q, ", ")
}
