package transform

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/testbed"
)

// TestCompileHasOneNeedsUniqueKey checks that a has_one relation is only
// accepted where the catalog guarantees at most one matching row.
func TestCompileHasOneNeedsUniqueKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE people (id int PRIMARY KEY, region int)`)
	db.Exec(`CREATE TABLE addresses (id int PRIMARY KEY, person_id int, region int, city text)`)
	db.Exec(`CREATE TABLE passports (id int PRIMARY KEY, person_id int UNIQUE, number text)`)
	db.Exec(`CREATE TABLE badges (person_id int, region int, code text, PRIMARY KEY (person_id, region))`)
	db.Exec(`CREATE TABLE notes (id int PRIMARY KEY, person_id int, body text)`)
	db.Exec(`CREATE UNIQUE INDEX notes_partial ON notes (person_id) WHERE body IS NOT NULL`)
	db.Exec(`CREATE TABLE full_nokey (a int, b int)`)
	db.Exec(`ALTER TABLE full_nokey REPLICA IDENTITY FULL`)
	conn := db.Connect()
	tables := []capture.Table{{Schema: "public", Name: "people"}, {Schema: "public", Name: "addresses"},
		{Schema: "public", Name: "passports"}, {Schema: "public", Name: "badges"}, {Schema: "public", Name: "notes"},
		{Schema: "public", Name: "full_nokey"}}
	infos, err := capture.Describe(ctx, conn, tables)
	if err != nil {
		t.Fatal(err)
	}
	schema := Schema{"crm": infos}
	ref := func(name string) config.TableRef { return config.TableRef{Source: "crm", Schema: "public", Name: name} }
	view := func(rel string, on ...config.JoinPair) []config.View {
		return []config.View{{Name: "people", Root: ref("people"), AllColumns: true,
			Relations: []config.Relation{{Name: rel, Type: config.HasOne, Table: ref(rel), On: on, AllColumns: true}}}}
	}
	byPerson := config.JoinPair{Parent: "id", Related: "person_id"}
	byRegion := config.JoinPair{Parent: "region", Related: "region"}
	for _, tc := range []struct {
		rel   string
		on    []config.JoinPair
		fails bool
	}{
		{"addresses", []config.JoinPair{byPerson}, true},
		{"notes", []config.JoinPair{byPerson}, true}, // a partial index holds for some rows only
		{"passports", []config.JoinPair{byPerson}, false},
		{"passports", []config.JoinPair{byPerson, {Parent: "region", Related: "id"}}, false}, // a unique column within the join
		{"badges", []config.JoinPair{byPerson}, true},
		{"badges", []config.JoinPair{byPerson, byRegion}, false},
	} {
		_, err := Compile(view(tc.rel, tc.on...), schema)
		switch {
		case tc.fails && (err == nil || !strings.Contains(err.Error(), "CREATE UNIQUE INDEX ON public."+tc.rel) ||
			!strings.Contains(err.Error(), "has_many")):
			t.Errorf("has_one %s on %v: %v, want a refusal with the fix", tc.rel, tc.on, err)
		case !tc.fails && err != nil:
			t.Errorf("has_one %s on %v: %v", tc.rel, tc.on, err)
		}
	}

	// A table with REPLICA IDENTITY FULL and no key is refused as well.
	_, err = Compile([]config.View{{Name: "full", Root: ref("full_nokey"), AllColumns: true}}, schema)
	if err == nil || !strings.Contains(err.Error(), "REPLICA IDENTITY USING INDEX") {
		t.Errorf("a FULL table without a key: %v, want a refusal with the fix", err)
	}
}

// TestCompileReservesKeyField checks that no root field can take the name
// of the field a hashed id's document keeps its key in.
func TestCompileReservesKeyField(t *testing.T) {
	schema := Schema{"crm": {capture.Table{Schema: "public", Name: "t"}: &capture.TableInfo{
		Table: capture.Table{Schema: "public", Name: "t"}, Key: []string{"id"},
		Columns: []capture.Column{{Name: "id", Base: "int4"}, {Name: KeyField, Base: "text"}},
	}}}
	root := config.TableRef{Source: "crm", Schema: "public", Name: "t"}
	for name, v := range map[string]config.View{
		"all columns": {Name: "v", Root: root, AllColumns: true},
		"field":       {Name: "v", Root: root, Fields: []config.Field{{Column: "id", Name: KeyField}}},
	} {
		if _, err := Compile([]config.View{v}, schema); err == nil || !strings.Contains(err.Error(), KeyField) {
			t.Errorf("%s: %v, want a refusal naming %s", name, err, KeyField)
		}
	}
	ok := config.View{Name: "v", Root: root, Fields: []config.Field{{Column: KeyField, Name: "key_text"}}}
	if _, err := Compile([]config.View{ok}, schema); err != nil {
		t.Errorf("a renamed column: %v", err)
	}
}
