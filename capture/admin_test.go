package capture

import (
	"context"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestInspectSlot reads a slot before it exists, right after it is
// created and after WAL was written that nobody confirmed: the server's
// position is known throughout, and the slot's lag and retained WAL grow
// with what it holds.
func TestInspectSlot(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	conn := db.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	slot := db.Name + "_slot"

	before, err := InspectSlot(ctx, conn, slot)
	if err != nil {
		t.Fatalf("InspectSlot before the slot exists: %v", err)
	}
	if before.Exists || before.Current == 0 || before.Confirmed != 0 || before.LagBytes != 0 {
		t.Fatalf("before the slot exists: %+v, want no slot and the server's position", before)
	}

	db.Exec(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, slot)
	created, err := InspectSlot(ctx, conn, slot)
	if err != nil {
		t.Fatalf("InspectSlot: %v", err)
	}
	if !created.Exists || created.Plugin != "pgoutput" || created.Active || created.Confirmed == 0 ||
		created.Current < created.Confirmed || created.WALStatus == "" {
		t.Fatalf("new slot: %+v", created)
	}

	db.Exec(`CREATE TABLE filler AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 10000) g`)
	later, err := InspectSlot(ctx, conn, slot)
	if err != nil {
		t.Fatalf("InspectSlot after writes: %v", err)
	}
	if later.Confirmed != created.Confirmed {
		t.Errorf("confirmed moved from %s to %s without a consumer", created.Confirmed, later.Confirmed)
	}
	if later.Current <= created.Current || later.LagBytes != int64(later.Current-later.Confirmed) || later.LagBytes < 1<<20 {
		t.Errorf("after about 1 MB of WAL: current %s, confirmed %s, lag %d bytes", later.Current, later.Confirmed, later.LagBytes)
	}
	if later.RetainedBytes < later.LagBytes {
		t.Errorf("retained %d bytes, less than the lag of %d bytes", later.RetainedBytes, later.LagBytes)
	}
}

// TestBehind checks the distance between two WAL positions, which never
// goes negative.
func TestBehind(t *testing.T) {
	for _, tc := range []struct {
		a, b LSN
		want uint64
	}{
		{100, 40, 60},
		{40, 100, 0},
		{7, 7, 0},
		{0, 0, 0},
	} {
		if got := Behind(tc.a, tc.b); got != tc.want {
			t.Errorf("Behind(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestTableOIDs reads the identity of tables: a table created again under
// its name has a new one, and a table that does not exist is left out.
func TestTableOIDs(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	conn := db.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db.Exec(`CREATE SCHEMA shop; CREATE TABLE shop.orders (id int PRIMARY KEY); CREATE TABLE lines (id int PRIMARY KEY)`)
	orders, lines, ghost := Table{Schema: "shop", Name: "orders"}, Table{Schema: "public", Name: "lines"}, Table{Schema: "public", Name: "ghost"}

	first, err := TableOIDs(ctx, conn, []Table{orders, lines, ghost})
	if err != nil {
		t.Fatalf("TableOIDs: %v", err)
	}
	if len(first) != 2 || first[orders] == 0 || first[lines] == 0 || first[orders] == first[lines] {
		t.Fatalf("TableOIDs = %v, want two distinct OIDs and no ghost", first)
	}

	db.Exec(`DROP TABLE shop.orders; CREATE TABLE shop.orders (id int PRIMARY KEY)`)
	second, err := TableOIDs(ctx, conn, []Table{orders, lines})
	if err != nil {
		t.Fatalf("TableOIDs: %v", err)
	}
	if second[orders] == first[orders] {
		t.Errorf("re-created table kept OID %d", first[orders])
	}
	if second[lines] != first[lines] {
		t.Errorf("untouched table's OID changed from %d to %d", first[lines], second[lines])
	}
}
