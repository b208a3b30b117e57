package daemon

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform"
)

// schemaWatch notices the schema changes logical replication does not
// carry: a table of a view dropped, or a column a view reads dropped or
// given another type. Without it a dropped table only shows as the end of
// its changes, and a type change only as dead letters.
type schemaWatch struct {
	// started is each source's schema as the views were compiled against.
	started transform.Schema
	// used lists, per source and table, the columns the views read.
	used map[string]map[capture.Table][]string
	// whole marks, per source, the tables some view shows whole (no
	// fields listed): a column added to or dropped from one changes the
	// documents' shape, so the views over it are rebuilt.
	whole map[string]map[capture.Table]bool
	// partitions holds, per source, the leaf partitions of each
	// partitioned table as first seen: attaching or detaching one changes
	// the table's rows without a single change in the stream.
	partitions map[string]map[capture.Table][]string
	// reported holds the problems already logged, so each is logged once.
	reported map[string]bool
}

func newSchemaWatch(started transform.Schema, views []*transform.View) *schemaWatch {
	w := &schemaWatch{started: started, used: map[string]map[capture.Table][]string{},
		whole: map[string]map[capture.Table]bool{}, partitions: map[string]map[capture.Table][]string{},
		reported: map[string]bool{}}
	for _, v := range views {
		w.addNode(v.Root, nil)
	}
	for _, tables := range w.used {
		for t := range tables {
			if t.Schema == config.EntitySchema {
				delete(tables, t) // folded from events: no table to watch
			}
		}
	}
	return w
}

func (w *schemaWatch) addNode(n, parent *transform.Node) {
	var cols []string
	if n.AllFields {
		if w.whole[n.Source] == nil {
			w.whole[n.Source] = map[capture.Table]bool{}
		}
		w.whole[n.Source][n.Table] = true
		if info := w.started[n.Source][n.Table]; info != nil {
			for _, c := range info.Columns {
				cols = append(cols, c.Name)
			}
		}
	}
	for _, f := range n.Fields {
		cols = append(cols, f.Column)
	}
	cols = append(cols, n.Key...)
	for _, on := range n.On {
		cols = append(cols, on.Related)
		w.use(parent.Source, parent.Table, on.Parent)
	}
	w.use(n.Source, n.Table, cols...)
	for _, c := range n.Children {
		w.addNode(c, n)
	}
}

func (w *schemaWatch) use(source string, t capture.Table, cols ...string) {
	if w.used[source] == nil {
		w.used[source] = map[capture.Table][]string{}
	}
	have := w.used[source][t]
	for _, c := range cols {
		if !slices.Contains(have, c) {
			have = append(have, c)
		}
	}
	w.used[source][t] = have
}

// check compares a source's tables with the schema projector started
// with and returns every difference that matters to the views, each with
// what to do about it. rebuild is true when a table a view shows whole
// gained or lost a column, or a partitioned table gained or lost a
// partition: only new index versions built from a fresh snapshot give
// every document the new shape (and the index a mapping for it), or the
// rows of the partition that came or went.
func (w *schemaWatch) check(ctx context.Context, conn *pgx.Conn, source string) (problems []string, rebuild bool, err error) {
	used := w.used[source]
	tables := make([]capture.Table, 0, len(used))
	for t := range used {
		tables = append(tables, t)
	}
	slices.SortFunc(tables, func(a, b capture.Table) int { return cmp.Compare(a.String(), b.String()) })
	now, err := capture.Describe(ctx, conn, tables)
	if err != nil {
		return nil, false, err
	}
	parts, err := capture.Partitions(ctx, conn, tables)
	if err != nil {
		return nil, false, err
	}
	if w.partitions[source] == nil {
		w.partitions[source] = parts
	}
	for _, t := range tables {
		info, ok := now[t]
		if !ok {
			problems = append(problems, fmt.Sprintf("source %s: table %s was dropped; the views over it no longer change. "+
				"Restore the table, or remove it from the views and restart projector (a start leaves out a view whose table is missing)",
				source, t))
			continue
		}
		if was, is := w.partitions[source][t], parts[t]; !slices.Equal(was, is) {
			problems = append(problems, fmt.Sprintf("source %s: partitions of %s changed (%s); the rows they carry never pass through the replication stream, so "+
				"the views of source %s are rebuilt into new index versions from a fresh snapshot while queries keep using the current ones",
				source, t, describePartitionChanges(was, is), source))
			rebuild = true
			continue
		}
		before := w.started[source][t]
		if w.whole[source][t] {
			if added, dropped := columnChanges(before, info); len(added)+len(dropped) > 0 {
				problems = append(problems, fmt.Sprintf("source %s: table %s, which a view shows whole, %s; "+
					"rebuilding the views of source %s into new index versions from a fresh snapshot while queries keep using the current ones",
					source, t, describeColumnChanges(added, dropped), source))
				rebuild = true
				continue
			}
		}
		for _, col := range used[t] {
			was, known := before.Column(col)
			is, ok := info.Column(col)
			switch {
			case !known:
			case !ok:
				problems = append(problems, fmt.Sprintf("source %s: column %s of %s was dropped; the views show it as null from now on. "+
					"Restore the column, or remove it from the views and restart projector", source, col, t))
			case is.Type != was.Type:
				problems = append(problems, fmt.Sprintf("source %s: column %s of %s changed type from %s to %s; "+
					"restart projector to rebuild the views over it with the new type (until then, values that do not fit the index mapping go to the dead-letter index)",
					source, col, t, was.Type, is.Type))
			}
		}
	}
	return problems, rebuild, nil
}

// columnChanges lists the columns a table gained and lost.
func columnChanges(before, now *capture.TableInfo) (added, dropped []string) {
	if before == nil || now == nil {
		return nil, nil
	}
	for _, c := range now.Columns {
		if _, ok := before.Column(c.Name); !ok {
			added = append(added, c.Name)
		}
	}
	for _, c := range before.Columns {
		if _, ok := now.Column(c.Name); !ok {
			dropped = append(dropped, c.Name)
		}
	}
	return added, dropped
}

func describeColumnChanges(added, dropped []string) string {
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "gained column "+strings.Join(added, ", "))
	}
	if len(dropped) > 0 {
		parts = append(parts, "lost column "+strings.Join(dropped, ", "))
	}
	return strings.Join(parts, " and ")
}

func describePartitionChanges(was, is []string) string {
	var attached, detached []string
	for _, p := range is {
		if !slices.Contains(was, p) {
			attached = append(attached, p)
		}
	}
	for _, p := range was {
		if !slices.Contains(is, p) {
			detached = append(detached, p)
		}
	}
	var parts []string
	if len(attached) > 0 {
		parts = append(parts, "attached "+strings.Join(attached, ", "))
	}
	if len(detached) > 0 {
		parts = append(parts, "detached "+strings.Join(detached, ", "))
	}
	return strings.Join(parts, "; ")
}

// schemaChanged ends a run of the pipeline because a table a view shows
// whole changed its columns, or a partitioned table its partitions. The
// source's state is reset, so the next run rebuilds every view over it
// into a new index version from a fresh snapshot, as after a change of
// the views, while queries keep using the current ones.
type schemaChanged struct{ source string }

func (e *schemaChanged) Error() string {
	return fmt.Sprintf("%v: the schema of source %s changed under its views", errRebootstrap, e.source)
}

func (e *schemaChanged) Unwrap() error { return errRebootstrap }

// report logs the problems not logged before and returns how many there
// were.
func (w *schemaWatch) report(problems []string, log *slog.Logger) int {
	fresh := 0
	for _, p := range problems {
		if !w.reported[p] {
			w.reported[p] = true
			log.Error("source schema changed under a view", "problem", p)
			fresh++
		}
	}
	return fresh
}

// publicationNeeds says how a source's publication is owned and which
// columns its views read, by table; a table a view shows whole (no fields
// listed) is left out, meaning every column. The publication check uses
// it to refuse column lists and generated columns that would hide a value
// from a document.
func publicationNeeds(cfg *config.Config, source string) (existing bool, columns map[capture.Table][]string) {
	whole := map[capture.Table]bool{}
	columns = map[capture.Table][]string{}
	add := func(ref config.TableRef, cols ...string) {
		if ref.Source != source {
			return
		}
		t := capture.Table{Schema: ref.Schema, Name: ref.Name}
		have := columns[t]
		for _, c := range cols {
			if !slices.Contains(have, c) {
				have = append(have, c)
			}
		}
		columns[t] = have
	}
	fieldCols := func(ref config.TableRef, all bool, fields []config.Field) {
		if all && ref.Source == source {
			whole[capture.Table{Schema: ref.Schema, Name: ref.Name}] = true
		}
		for _, f := range fields {
			add(ref, f.Column)
		}
	}
	for i := range cfg.Views {
		v := &cfg.Views[i]
		fieldCols(v.Root, v.AllColumns, v.Fields)
		for _, j := range v.Joins() {
			r := j.Relation
			fieldCols(r.Table, r.AllColumns, r.Fields)
			for _, on := range r.On {
				add(j.Parent, on.Parent)
				add(r.Table, on.Related)
			}
		}
	}
	for t := range whole {
		delete(columns, t)
	}
	return cfg.Sources[source].PublicationMode == config.PublicationExisting, columns
}
