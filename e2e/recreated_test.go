package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestRecreatedTable drops a view's table and creates it again with the
// same name and columns in one transaction while projector runs. Logical
// replication says nothing of it and the new table is not in the
// publication: projector must notice the new identity, report it, and take
// the source again so that the view follows the new table's rows.
func TestRecreatedTable(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		INSERT INTO dishes SELECT g, 'dish ' || g FROM generate_series(1, 500) g`)
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  menu: { dsn: %q, slot: %s }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    settings: { replicas: 0 }
`, db.DSN(), search.Prefix+"menu", search.URL, search.Prefix, t.TempDir(), addr))
	alias := search.Index("dishes")
	d := startDaemon(t, cfg, addr)
	d.waitReady(2 * time.Minute)
	waitCount(t, search, alias, 500)

	db.Exec(`BEGIN;
		DROP TABLE dishes;
		CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		INSERT INTO dishes SELECT g, 'again ' || g FROM generate_series(1, 300) g;
		COMMIT`)
	db.Exec(`INSERT INTO dishes VALUES (1001, 'after the re-creation')`)
	db.Exec(`UPDATE dishes SET name = 'renamed' WHERE id = 7`)

	waitAlias(t, search, alias, alias+"_v2")
	waitCount(t, search, alias, 301)
	waitDoc(t, search, alias, "7", func(doc map[string]any) bool { return doc["name"] == "renamed" })
	d.waitReady(2 * time.Minute)
	db.Exec(`INSERT INTO dishes VALUES (1002, 'after the new snapshot')`)
	waitDoc(t, search, alias, "1002", func(map[string]any) bool { return true })
	verifyViews(t, cfg, nil, "dishes")

	if n := strings.Count(d.out.String(), "source table re-created under a view"); n != 1 {
		t.Errorf("the re-created table was reported %d times, want once", n)
	}
	if v, ok := sample(d.metrics(), "projector_errors_total", map[string]string{"stage": "schema"}); !ok || v < 1 {
		t.Errorf("projector_errors_total{stage=\"schema\"} = %v (present %v), want at least 1", v, ok)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}
