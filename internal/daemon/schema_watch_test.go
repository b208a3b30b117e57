package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/transform"
)

// TestSchemaWatch changes a live source's schema under its views, one
// change at a time, and checks what the watch reports: a column a view
// reads changing type (no rebuild), a column added to a table a view
// shows whole (rebuild), a column a view does not read (nothing), and a
// table dropped. Each problem is logged once however often it is found.
func TestSchemaWatch(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE orders (id bigint PRIMARY KEY, total numeric, note text);
		CREATE TABLE lines (id bigint PRIMARY KEY, order_id bigint, sku text)`)
	cfg := loadConfig(t, fmt.Sprintf(`
sources:
  shop: { dsn: %q }
sink: { urls: ["http://127.0.0.1:1"] }
views:
  - name: orders
    root: { source: shop, table: orders }
    fields: [id, total]
  - name: lines
    root: { source: shop, table: lines }
`, db.DSN()))
	conn := db.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := CaptureSource(cfg, "shop")
	infos, err := capture.Describe(ctx, conn, src.Tables)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	schema := transform.Schema{"shop": infos}
	views, err := transform.Compile(cfg.Views, schema)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	w := newSchemaWatch(schema, views)
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))

	for _, step := range []struct {
		name    string
		sql     string
		want    []string // a substring of each problem, in order
		rebuild bool
		fresh   int
	}{
		{name: "unchanged"},
		{name: "a column nobody reads", sql: `ALTER TABLE orders DROP COLUMN note`},
		{name: "a column read changes type", sql: `ALTER TABLE orders ALTER COLUMN total TYPE text`,
			want: []string{"column total of public.orders changed type from numeric to text"}, fresh: 1},
		{name: "a column added to a whole table", sql: `ALTER TABLE lines ADD COLUMN qty int`,
			want:    []string{"table public.lines, which a view shows whole, gained column qty", "column total of public.orders changed type"},
			rebuild: true, fresh: 1},
		{name: "a table dropped", sql: `DROP TABLE orders`,
			want:    []string{"table public.lines, which a view shows whole, gained column qty", "table public.orders was dropped"},
			rebuild: true, fresh: 1},
	} {
		if step.sql != "" {
			db.Exec(step.sql)
		}
		problems, rebuild, err := w.check(ctx, conn, "shop")
		if err != nil {
			t.Fatalf("%s: check: %v", step.name, err)
		}
		if rebuild != step.rebuild {
			t.Errorf("%s: rebuild = %v, want %v", step.name, rebuild, step.rebuild)
		}
		if len(problems) != len(step.want) {
			t.Errorf("%s: problems %q, want %d", step.name, problems, len(step.want))
		}
		for _, want := range step.want {
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p, want)
			}
			if !found {
				t.Errorf("%s: no problem says %q: %q", step.name, want, problems)
			}
		}
		if fresh := w.report(problems, log); fresh != step.fresh {
			t.Errorf("%s: %d problems reported as new, want %d", step.name, fresh, step.fresh)
		}
	}
	if n := strings.Count(logged.String(), "source schema changed under a view"); n != 3 {
		t.Errorf("%d problems logged, want each of the 3 once:\n%s", n, logged.String())
	}
}
