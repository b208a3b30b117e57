package capture

import (
	"strings"
	"testing"
)

func TestPlanPublication(t *testing.T) {
	orders := Table{Schema: "public", Name: "orders"}
	m := Table{Schema: "public", Name: "measurements"}
	m2023 := Table{Schema: "public", Name: "measurements_2023"}
	plain := tableShape{columns: []string{"id", "status"}}
	parted := tableShape{partitioned: true, partitions: 2, columns: []string{"id", "at"}}
	leaf := tableShape{ancestors: []Table{m}, columns: []string{"id", "at"}}
	withGen := tableShape{columns: []string{"id", "status", "total"}, generated: map[string]byte{"total": 's'}}
	full := func(f pubFacts) *pubFacts {
		f.name, f.exists, f.insert, f.update, f.delete, f.truncate = "pub", true, true, true, true, true
		if f.version == 0 {
			f.version = 150000
		}
		return &f
	}
	tests := []struct {
		name       string
		facts      *pubFacts
		src        Source
		statements []string // each must appear, in order
		problems   []string // each must appear in some problem
		warnings   int
	}{
		{
			name:  "missing, managed: created via root with every operation and marked",
			facts: &pubFacts{name: "pub", version: 150000, tables: map[Table]tableShape{orders: plain, m: parted}},
			src:   Source{Tables: []Table{orders, m}},
			statements: []string{
				`CREATE PUBLICATION "pub" FOR TABLE "public"."orders", "public"."measurements" WITH (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)`,
				`COMMENT ON PUBLICATION "pub" IS 'created by projector`,
			},
		},
		{
			name:       "missing, managed, PostgreSQL 18: stored generated columns published",
			facts:      &pubFacts{name: "pub", version: 180000, tables: map[Table]tableShape{orders: withGen}},
			src:        Source{Tables: []Table{orders}},
			statements: []string{`publish_via_partition_root = true, publish_generated_columns = stored)`},
		},
		{
			name:     "missing, existing mode",
			facts:    &pubFacts{name: "pub", version: 150000, tables: map[Table]tableShape{orders: plain}},
			src:      Source{Tables: []Table{orders}, ExistingPublication: true},
			problems: []string{`publication "pub" does not exist (publication_mode: existing)`},
		},
		{
			name: "someone else's list missing a table: only that table is added",
			facts: full(pubFacts{viaRoot: false, tables: map[Table]tableShape{orders: plain},
				published: map[Table]pubTable{}}),
			src:        Source{Tables: []Table{orders}},
			statements: []string{`ALTER PUBLICATION "pub" ADD TABLE "public"."orders"`},
		},
		{
			name: "someone else's FOR ALL TABLES covering the tables: nothing to do, never SET TABLE",
			facts: full(pubFacts{allTables: true, tables: map[Table]tableShape{orders: plain},
				published: map[Table]pubTable{orders: {}}}),
			src: Source{Tables: []Table{orders}},
		},
		{
			name: "someone else's publication with publish = insert: refused with the fix",
			facts: func() *pubFacts {
				f := full(pubFacts{tables: map[Table]tableShape{orders: plain}, published: map[Table]pubTable{orders: {}}})
				f.update, f.delete, f.truncate = false, false, false
				return f
			}(),
			src:      Source{Tables: []Table{orders}},
			problems: []string{`does not publish update, delete, so the views would miss those changes: have its owner run ALTER PUBLICATION "pub" SET (publish = 'insert, update, delete, truncate')`},
		},
		{
			name: "projector's own publication with publish = insert: fixed",
			facts: func() *pubFacts {
				f := full(pubFacts{ours: true, viaRoot: true, tables: map[Table]tableShape{orders: plain}, published: map[Table]pubTable{orders: {}}})
				f.update = false
				return f
			}(),
			src:        Source{Tables: []Table{orders}},
			statements: []string{`ALTER PUBLICATION "pub" SET (publish = 'insert, update, delete, truncate')`},
		},
		{
			name: "someone else's publication without truncate: a warning only",
			facts: func() *pubFacts {
				f := full(pubFacts{tables: map[Table]tableShape{orders: plain}, published: map[Table]pubTable{orders: {}}})
				f.truncate = false
				return f
			}(),
			src:      Source{Tables: []Table{orders}},
			warnings: 1,
		},
		{
			name: "someone else's publication, partitioned table, not via root: refused with the fix",
			facts: full(pubFacts{allTables: true, tables: map[Table]tableShape{m: parted},
				published: map[Table]pubTable{m2023: {}}}),
			src:      Source{Tables: []Table{m}},
			problems: []string{`have its owner run ALTER PUBLICATION "pub" SET (publish_via_partition_root = true)`},
		},
		{
			name: "projector's own publication, not via root: fixed first, the root added in a later round",
			facts: full(pubFacts{ours: true, tables: map[Table]tableShape{m: parted},
				published: map[Table]pubTable{}}),
			src:        Source{Tables: []Table{m}},
			statements: []string{`ALTER PUBLICATION "pub" SET (publish_via_partition_root = true)`},
		},
		{
			name: "a partition whose root is published via root: refused",
			facts: full(pubFacts{viaRoot: true, allTables: true, tables: map[Table]tableShape{m2023: leaf},
				published: map[Table]pubTable{m: {}}}),
			src:      Source{Tables: []Table{m2023}},
			problems: []string{`table public.measurements_2023 is a partition of public.measurements`},
		},
		{
			name:     "a partition and its root in a new publication: refused",
			facts:    &pubFacts{name: "pub", version: 150000, tables: map[Table]tableShape{m: parted, m2023: leaf}},
			src:      Source{Tables: []Table{m, m2023}},
			problems: []string{`name public.measurements in the view instead of the partition`},
		},
		{
			name: "existing mode, table not covered: refused, nothing altered",
			facts: full(pubFacts{schemas: []string{"sales"}, tables: map[Table]tableShape{orders: plain},
				published: map[Table]pubTable{}}),
			src:      Source{Tables: []Table{orders}, ExistingPublication: true},
			problems: []string{`does not publish table public.orders: have its owner run ALTER PUBLICATION "pub" ADD TABLE "public"."orders"`},
		},
		{
			name: "row filter: refused",
			facts: full(pubFacts{tables: map[Table]tableShape{orders: plain},
				published: map[Table]pubTable{orders: {rowFilter: "(status = 'open'::text)"}}}),
			src:      Source{Tables: []Table{orders}, ExistingPublication: true},
			problems: []string{`sends only the rows of public.orders WHERE (status = 'open'::text)`},
		},
		{
			name: "column list hiding a column a view reads: refused",
			facts: full(pubFacts{tables: map[Table]tableShape{orders: plain},
				published: map[Table]pubTable{orders: {columns: []string{"id"}}}}),
			src:      Source{Tables: []Table{orders}},
			problems: []string{`sends only the columns id of public.orders, not status that the views read`},
		},
		{
			name: "column list keeping what the views read: accepted",
			facts: full(pubFacts{tables: map[Table]tableShape{orders: plain},
				published: map[Table]pubTable{orders: {columns: []string{"id"}}}}),
			src: Source{Tables: []Table{orders}, Columns: map[Table][]string{orders: {"id"}}},
		},
		{
			name: "stored generated column before PostgreSQL 18: refused with the fix",
			facts: full(pubFacts{tables: map[Table]tableShape{orders: withGen},
				published: map[Table]pubTable{orders: {}}}),
			src:      Source{Tables: []Table{orders}},
			problems: []string{`column total of table public.orders is a generated column, which PostgreSQL 15 does not send`},
		},
		{
			name: "stored generated column left out of the view: accepted",
			facts: full(pubFacts{tables: map[Table]tableShape{orders: withGen},
				published: map[Table]pubTable{orders: {}}}),
			src: Source{Tables: []Table{orders}, Columns: map[Table][]string{orders: {"id", "status"}}},
		},
		{
			name: "stored generated column on PostgreSQL 18, someone else's publication without it: refused",
			facts: full(pubFacts{version: 180000, viaRoot: true, tables: map[Table]tableShape{orders: withGen},
				published: map[Table]pubTable{orders: {}}}),
			src:      Source{Tables: []Table{orders}},
			problems: []string{`have its owner run ALTER PUBLICATION "pub" SET (publish_generated_columns = stored)`},
		},
		{
			name: "stored generated column on PostgreSQL 18, projector's publication: fixed",
			facts: full(pubFacts{version: 180000, ours: true, viaRoot: true, tables: map[Table]tableShape{orders: withGen},
				published: map[Table]pubTable{orders: {}}}),
			src:        Source{Tables: []Table{orders}},
			statements: []string{`ALTER PUBLICATION "pub" SET (publish_generated_columns = stored)`},
		},
		{
			name: "virtual generated column: refused on every version",
			facts: full(pubFacts{version: 180000, tables: map[Table]tableShape{orders: {columns: []string{"id", "v"}, generated: map[string]byte{"v": 'v'}}},
				published: map[Table]pubTable{orders: {}}}),
			src:      Source{Tables: []Table{orders}},
			problems: []string{`column v of table public.orders is a virtual generated column`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.src.Publication = "pub"
			p := planPublication(tt.facts, tt.src)
			got := strings.Join(p.statements, "\n")
			if len(tt.statements) == 0 && got != "" {
				t.Errorf("statements: want none, got\n%s", got)
			}
			rest := got
			for _, want := range tt.statements {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("statements: want %q in order, got\n%s", want, got)
					break
				}
				rest = rest[i+len(want):]
			}
			var problems []string
			for _, pr := range p.problems {
				problems = append(problems, pr.err.Error())
			}
			all := strings.Join(problems, "\n")
			if len(tt.problems) == 0 && all != "" {
				t.Errorf("problems: want none, got\n%s", all)
			}
			for _, want := range tt.problems {
				if !strings.Contains(all, want) {
					t.Errorf("problems: want %q, got\n%s", want, all)
				}
			}
			if len(p.problems) > 0 && len(p.statements) > 0 {
				t.Errorf("a refused publication must not be changed, got\n%s", got)
			}
			if len(p.warnings) != tt.warnings {
				t.Errorf("warnings: want %d, got %q", tt.warnings, p.warnings)
			}
		})
	}
}
