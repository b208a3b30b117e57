package capture

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestDescribeKeyColumns checks which columns make a table's document ids:
// never every column of a REPLICA IDENTITY FULL table.
func TestDescribeKeyColumns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE plain (id int PRIMARY KEY, v text)`)
	db.Exec(`CREATE TABLE full_pk (id text PRIMARY KEY, body text, v int)`)
	db.Exec(`ALTER TABLE full_pk REPLICA IDENTITY FULL`)
	db.Exec(`CREATE TABLE full_nokey (a int, b int)`)
	db.Exec(`ALTER TABLE full_nokey REPLICA IDENTITY FULL`)
	db.Exec(`CREATE TABLE by_index (id int PRIMARY KEY, code text NOT NULL, region int NOT NULL, v text)`)
	db.Exec(`CREATE UNIQUE INDEX by_index_code ON by_index (region, code)`)
	db.Exec(`ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_code`)
	db.Exec(`CREATE TABLE composite (b int, a text, v int, PRIMARY KEY (a, b))`)
	db.Exec(`CREATE TABLE nokey (a int)`)

	conn := db.Connect()
	tables := []Table{
		{"public", "plain"}, {"public", "full_pk"}, {"public", "full_nokey"},
		{"public", "by_index"}, {"public", "composite"}, {"public", "nokey"},
	}
	infos, err := Describe(ctx, conn, tables)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"plain":      {"id"},
		"full_pk":    {"id"},
		"full_nokey": nil,
		"by_index":   {"region", "code"},
		"composite":  {"a", "b"},
		"nokey":      nil,
	}
	for _, tb := range tables {
		info := infos[tb]
		if info == nil {
			t.Fatalf("%s not described", tb)
		}
		if !slices.Equal(info.Key, want[tb.Name]) {
			t.Errorf("key of %s = %v, want %v", tb.Name, info.Key, want[tb.Name])
		}
	}

	for name, fix := range map[string]string{
		"full_nokey": "REPLICA IDENTITY USING INDEX",
		"nokey":      "REPLICA IDENTITY USING INDEX",
	} {
		err := checkTable(ctx, conn, Table{"public", name})
		if err == nil || !strings.Contains(err.Error(), fix) {
			t.Errorf("checkTable(%s) = %v, want an error naming %q", name, err, fix)
		}
	}
	for _, name := range []string{"plain", "full_pk", "by_index", "composite"} {
		if err := checkTable(ctx, conn, Table{"public", name}); err != nil {
			t.Errorf("checkTable(%s) = %v", name, err)
		}
	}
}
