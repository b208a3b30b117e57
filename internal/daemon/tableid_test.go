package daemon

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/transform/state"
)

// TestTableIdentity records the identity of a view's tables, then finds
// the one dropped and created again under the same name, also after the
// store is reopened (a restart), and ignores a dropped table and a changed
// column type, which keep or lose the name, not the identity.
func TestTableIdentity(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		CREATE TABLE menus (id bigint PRIMARY KEY, n int);
		CREATE TABLE extras (id bigint PRIMARY KEY)`)
	dir := t.TempDir()
	store, err := state.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tables := []capture.Table{{Schema: "public", Name: "dishes"}, {Schema: "public", Name: "menus"}, {Schema: "public", Name: "extras"}}
	stream := capture.NewStream(capture.Source{Name: "menu", DSN: db.DSN(), Tables: tables}, capture.Options{}, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	check := func(ti *tableIdentity) []capture.Table {
		t.Helper()
		got, err := ti.check(ctx, conn, "menu")
		if err != nil {
			t.Fatalf("check: %v", err)
		}
		return got
	}
	if got := check(newTableIdentity(store, []*capture.Stream{stream})); len(got) != 0 {
		t.Fatalf("first check reports %v; it only records", got)
	}
	db.Exec(`BEGIN; DROP TABLE dishes; CREATE TABLE dishes (id bigint PRIMARY KEY, name text); COMMIT`)
	db.Exec(`ALTER TABLE menus ALTER COLUMN n TYPE bigint`)
	db.Exec(`DROP TABLE extras`)
	want := []capture.Table{{Schema: "public", Name: "dishes"}}
	if got := check(newTableIdentity(store, []*capture.Stream{stream})); !slices.Equal(got, want) {
		t.Errorf("after the re-creation: %v, want %v", got, want)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if store, err = state.Open(dir, nil); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if got := check(newTableIdentity(store, []*capture.Stream{stream})); !slices.Equal(got, want) {
		t.Errorf("after a restart: %v, want %v", got, want)
	}
	// A reset forgets the identities: the new table is recorded.
	if err := store.SetTableOIDs("menu", nil); err != nil {
		t.Fatal(err)
	}
	ti := newTableIdentity(store, []*capture.Stream{stream})
	check(ti)
	if got := check(ti); len(got) != 0 {
		t.Errorf("after a reset: %v, want nothing", got)
	}
}
