package capture

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/internal/testbed"
)

var items = Table{Schema: "public", Name: "items"}

// publishedNames lists what pg_publication_tables says the publication
// sends.
func publishedNames(t *testing.T, db *testbed.Database, pub string) []string {
	t.Helper()
	conn := db.Connect()
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT schemaname || '.' || tablename FROM pg_publication_tables
		WHERE pubname = $1 ORDER BY 1`, pub)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func ensure(t *testing.T, db *testbed.Database, src Source) error {
	t.Helper()
	conn := db.Connect()
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return ensurePublication(ctx, conn, src, testLogger(t))
}

// TestSharedPublicationKeepsOtherTables: a publication that also carries
// another user's table keeps it when projector adds its own.
func TestSharedPublicationKeepsOtherTables(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 1)
	db.Exec(`CREATE TABLE probes (id int PRIMARY KEY); CREATE PUBLICATION shared FOR TABLE probes`)
	src := Source{Name: "s", Tables: []Table{items}, Publication: "shared"}
	for range 2 { // the second start must find nothing to change
		if err := ensure(t, db, src); err != nil {
			t.Fatal(err)
		}
	}
	if got := publishedNames(t, db, "shared"); !slices.Equal(got, []string{"public.items", "public.probes"}) {
		t.Fatalf("publication tables: want public.items and public.probes, got %v", got)
	}
}

// TestPublishInsertOnlyRefused: a publication that does not send updates
// and deletes is refused once, with the fix, and left as it is.
func TestPublishInsertOnlyRefused(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 1)
	db.Exec(`CREATE PUBLICATION inserts FOR TABLE items WITH (publish = 'insert')`)
	err := ensure(t, db, Source{Name: "s", Tables: []Table{items}, Publication: "inserts"})
	if err == nil {
		t.Fatal("a publication without update and delete was accepted")
	}
	if Classify(err) != Permanent {
		t.Errorf("refusal is retried: %v", err)
	}
	if want := `ALTER PUBLICATION "inserts" SET (publish = 'insert, update, delete, truncate')`; !strings.Contains(err.Error(), want) {
		t.Errorf("error does not give the fix %q: %v", want, err)
	}
	conn := db.Connect()
	defer conn.Close(context.Background())
	var update bool
	if err := conn.QueryRow(context.Background(), `SELECT pubupdate FROM pg_publication WHERE pubname = 'inserts'`).Scan(&update); err != nil {
		t.Fatal(err)
	}
	if update {
		t.Error("another owner's publication was altered")
	}

	// Handed over with projector's mark, it is fixed.
	db.Exec(`COMMENT ON PUBLICATION inserts IS 'created by projector'`)
	if err := ensure(t, db, Source{Name: "s", Tables: []Table{items}, Publication: "inserts"}); err != nil {
		t.Fatalf("a publication marked as projector's was not fixed: %v", err)
	}
	if err := conn.QueryRow(context.Background(), `SELECT pubupdate AND pubdelete AND pubtruncate AND pubviaroot FROM pg_publication WHERE pubname = 'inserts'`).Scan(&update); err != nil {
		t.Fatal(err)
	}
	if !update {
		t.Error("projector's own publication was not given every operation and publish_via_partition_root")
	}
}

// TestForAllTablesManaged: a DBA's FOR ALL TABLES publication covers the
// tables, so managed mode accepts it as it is instead of trying to set
// its table list (which the server refuses with SQLSTATE 55000).
func TestForAllTablesManaged(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 1)
	db.Exec(`CREATE PUBLICATION everything FOR ALL TABLES`)
	if err := ensure(t, db, Source{Name: "s", Tables: []Table{items}, Publication: "everything"}); err != nil {
		t.Fatal(err)
	}
}

// TestExistingPublicationsStream streams through publications an
// administrator made, used as they are.
func TestExistingPublicationsStream(t *testing.T) {
	t.Parallel()
	// FOR TABLES IN SCHEMA came with PostgreSQL 15; older servers have the
	// explicit table list instead.
	listed := `CREATE PUBLICATION dba FOR TABLES IN SCHEMA public`
	if serverVersion(t, testbed.Primary) < 150000 {
		listed = `CREATE PUBLICATION dba FOR TABLE items, fences`
	}
	for _, tc := range []struct{ name, create string }{
		{"for all tables", `CREATE PUBLICATION dba FOR ALL TABLES`},
		{"for tables in schema or a list", listed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testbed.NewDatabase(t, testbed.Primary)
			itemsTable(db, 500)
			db.Exec(tc.create)
			r := newReplica()
			streamSource(t, Source{Name: db.Name, DSN: db.DSN(), Tables: []Table{items, fencesTable},
				Publication: "dba", ExistingPublication: true}, r)
			w := startWriter(t, db, 500)
			w.waitOps(t, 300)
			w.halt()
			r.waitFence(t, db, time.Minute)
			r.compare(t, db)
		})
	}
}

// TestExistingPublicationRefusesFilters: a row filter or a column list
// hiding a column the views read stops the source with the fix.
func TestExistingPublicationRefusesFilters(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 1)
	if serverVersion(t, testbed.Primary) < 150000 {
		// Row filters and column lists came with PostgreSQL 15: before it a
		// publication sends whole rows, and its facts are read without them.
		db.Exec(`CREATE PUBLICATION plain FOR TABLE items`)
		if err := ensure(t, db, Source{Name: "s", Tables: []Table{items}, Publication: "plain", ExistingPublication: true}); err != nil {
			t.Errorf("a table-list publication was refused: %v", err)
		}
		return
	}
	db.Exec(`CREATE PUBLICATION filtered FOR TABLE items WHERE (id > 10);
		CREATE PUBLICATION narrow FOR TABLE items (id, v)`)
	for pub, want := range map[string]string{
		"filtered": `sends only the rows of public.items WHERE (id > 10)`,
		"narrow":   `sends only the columns id, v of public.items, not payload`,
	} {
		err := ensure(t, db, Source{Name: "s", Tables: []Table{items}, Publication: pub, ExistingPublication: true})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("publication %s: want an error with %q, got %v", pub, want, err)
		}
	}
	// A column list keeping what the views read is fine.
	err := ensure(t, db, Source{Name: "s", Tables: []Table{items}, Publication: "narrow", ExistingPublication: true,
		Columns: map[Table][]string{items: {"id", "v"}}})
	if err != nil {
		t.Errorf("a column list with every column the views read was refused: %v", err)
	}
}

// TestPartitionedTableStreams captures a partitioned table: the snapshot
// copies the root through its partitions, every change arrives under the
// root's name, a partition attached while streaming delivers the rows
// written to it, and the publication is settled after the first start.
func TestPartitionedTableStreams(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE items (id bigint PRIMARY KEY, v bigint NOT NULL DEFAULT 0, payload text NOT NULL) PARTITION BY RANGE (id);
		CREATE TABLE items_low PARTITION OF items FOR VALUES FROM (MINVALUE) TO (1000);
		CREATE TABLE items_high PARTITION OF items FOR VALUES FROM (1000) TO (100000);
		INSERT INTO items (id, payload) SELECT g, repeat('x', g % 100) FROM generate_series(1, 1500) g;
		CREATE TABLE fences (id text PRIMARY KEY)`)
	src := Source{Name: db.Name, DSN: db.DSN(), Tables: []Table{items, fencesTable}}
	r := newReplica()
	streamSource(t, src, r)
	w := startWriter(t, db, 1500)
	w.waitOps(t, 300)
	w.halt()

	db.Exec(`CREATE TABLE items_later (LIKE items INCLUDING DEFAULTS);
		ALTER TABLE items ATTACH PARTITION items_later FOR VALUES FROM (100000) TO (200000)`)
	db.Exec(`INSERT INTO items (id, payload) SELECT g, 'attached' FROM generate_series(100000, 100009) g;
		UPDATE items SET v = v + 1 WHERE id = 100001; DELETE FROM items WHERE id = 100002`)
	r.waitFence(t, db, time.Minute)
	r.compare(t, db)

	if got := publishedNames(t, db, src.PublicationName()); !slices.Equal(got, []string{"public.fences", "public.items"}) {
		t.Errorf("publication sends %v, want public.fences and public.items (via the root)", got)
	}
	conn := db.Connect()
	defer conn.Close(context.Background())
	f, err := readPubFacts(context.Background(), conn, src.PublicationName(), src.Tables)
	if err != nil {
		t.Fatal(err)
	}
	if plan := planPublication(f, src); len(plan.statements) > 0 || len(plan.problems) > 0 {
		t.Errorf("a second start would change the publication: %q %v", plan.statements, plan.problems)
	}
	got := CheckPublication(context.Background(), conn, src)
	if !slices.ContainsFunc(got, func(r PublicationCheck) bool {
		return strings.Contains(r.Detail, "partitioned table with 3 partitions, published via root")
	}) {
		t.Errorf("check does not report the partitioned table: %+v", got)
	}
}

// TestGeneratedColumn: a stored generated column never vanishes from the
// stream. Before PostgreSQL 18, which does not send it, a view reading it
// is refused with the fix; on 18 projector's publication sends it
// (publish_generated_columns = stored) and a change carries its value.
func TestGeneratedColumn(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE lines (id int PRIMARY KEY, qty int, price int, total int GENERATED ALWAYS AS (qty * price) STORED);
		INSERT INTO lines VALUES (1, 2, 3)`)
	lines := Table{Schema: "public", Name: "lines"}
	conn := db.Connect()
	var version int
	if err := conn.QueryRow(context.Background(), "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version >= 180000 {
		changes := make(chan Change, 16)
		src := Source{Name: db.Name, DSN: db.DSN(), Tables: []Table{lines}}
		s := NewStream(src, Options{StatusInterval: 500 * time.Millisecond, MaxBackoff: time.Second},
			NewMetrics(prometheus.NewRegistry()), testLogger(t))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx, Checkpoint{}, func(ctx context.Context, txn *Transaction) error { //nolint:errcheck // ended by cancel
			for _, c := range txn.Changes {
				changes <- c
			}
			s.Confirm(txn.EndLSN)
			return nil
		})
		for _, want := range []struct {
			op    Op
			total string
		}{{Read, "6"}, {Update, "15"}} {
			if want.op == Update {
				db.Exec(`UPDATE lines SET qty = 5 WHERE id = 1`)
			}
			select {
			case c := <-changes:
				if c.Op != want.op || fmt.Sprint(c.New["total"]) != want.total {
					t.Fatalf("want %s with total %s, got %s %v", want.op, want.total, c.Op, c.New)
				}
			case <-time.After(time.Minute):
				t.Fatalf("no %s of lines arrived", want.op)
			}
		}
		return
	}
	err := ensure(t, db, Source{Name: "s", Tables: []Table{lines}})
	if err == nil || !strings.Contains(err.Error(), "leave it out of the view's fields") {
		t.Fatalf("want the generated column refused with the fix, got %v", err)
	}
	if Classify(err) != Permanent {
		t.Errorf("refusal is retried: %v", err)
	}
	err = ensure(t, db, Source{Name: "s", Tables: []Table{lines}, Columns: map[Table][]string{lines: {"id", "qty", "price"}}})
	if err != nil {
		t.Errorf("a view leaving the generated column out was refused: %v", err)
	}
}

// streamSource runs a stream of src into r until the test ends, and
// counts a change under any other table than items as a violation.
func streamSource(t *testing.T, src Source, r *replica) *Stream {
	t.Helper()
	s := NewStream(src, Options{StatusInterval: 500 * time.Millisecond, MaxBackoff: time.Second},
		NewMetrics(prometheus.NewRegistry()), testLogger(t))
	r.stream = s
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- s.Run(ctx, Checkpoint{}, func(ctx context.Context, txn *Transaction) error {
			for _, c := range txn.Changes {
				if c.Table != items && c.Table != fencesTable {
					r.mu.Lock()
					r.violate("change of %s, not public.items or the fences", c.Table)
					r.mu.Unlock()
				}
			}
			return r.deliver(ctx, txn)
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stream stopped: %v", err)
		}
	})
	return s
}
