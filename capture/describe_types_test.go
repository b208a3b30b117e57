package capture

import (
	"context"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestDescribeResolvesDomains checks that a column's Base is the type its
// values are decoded as: a domain's base type, and for an array of a
// domain the domain's base type, so that mappings and verify treat an
// array of a numeric domain as numbers.
func TestDescribeResolvesDomains(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE DOMAIN price AS numeric(10,2);
		CREATE TYPE mood AS ENUM ('ok');
		CREATE TYPE pair AS (n int, s text);
		CREATE TABLE t (id int PRIMARY KEY, p price, ps price[], m mood, ms mood[], j jsonb[], c pair, cs pair[])`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tbl := Table{Schema: "public", Name: "t"}
	got, err := Describe(ctx, db.Connect(), []Table{tbl})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		base  string
		array bool
	}{"id": {"int4", false}, "p": {"numeric", false}, "ps": {"numeric", true}, "m": {"enum", false}, "ms": {"enum", true}, "j": {"jsonb", true},
		"c": {"composite", false}, "cs": {"composite", true}}
	for _, c := range got[tbl].Columns {
		w := want[c.Name]
		if c.Base != w.base || c.Array != w.array {
			t.Errorf("column %s: base %q array %v, want %q %v", c.Name, c.Base, c.Array, w.base, w.array)
		}
	}
}
