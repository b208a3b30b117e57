package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestFailoverSlotSetting runs projector with capture.failover_slot: on
// PostgreSQL 17 and later its slot is created with failover on and the
// view fills as usual; on older servers projector says within seconds that
// the setting needs 17, and creates no slot a failover would lose.
func TestFailoverSlotSetting(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		INSERT INTO dishes SELECT g, 'dish ' || g FROM generate_series(1, 100) g`)
	addr := freePort(t)
	config := writeConfig(t, fmt.Sprintf(`
sources:
  menu: { dsn: %q, slot: %s }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
capture: { failover_slot: true }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    settings: { replicas: 0 }
`, db.DSN(), db.Name, search.URL, search.Prefix, t.TempDir(), addr))
	conn := db.Connect()
	var version int
	if err := conn.QueryRow(context.Background(), `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	query := func(sql string, dest any) {
		t.Helper()
		if err := conn.QueryRow(context.Background(), sql, db.Name).Scan(dest); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	d := startDaemon(t, config, addr)
	if version < 170000 {
		const want = "capture.failover_slot needs PostgreSQL 17 or later"
		eventually(t, 30*time.Second, func() bool { return strings.Contains(d.out.String(), want) },
			func() string { return "projector never said " + want })
		var slots int
		query(`SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, &slots)
		if slots != 0 {
			t.Fatalf("a slot was created on PostgreSQL %d", version)
		}
		return
	}
	d.waitReady(2 * time.Minute)
	waitCount(t, search, search.Index("dishes"), 100)
	var failover bool
	query(`SELECT failover FROM pg_replication_slots WHERE slot_name = $1`, &failover)
	if !failover {
		t.Fatalf("slot %s was created without failover", db.Name)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}
