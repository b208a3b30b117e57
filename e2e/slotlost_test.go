package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// loseSlot pushes the server's WAL past max_slot_wal_keep_size while
// projector is stopped, until the server invalidates the slot.
func loseSlot(t *testing.T, db *testbed.Database, slot string) {
	t.Helper()
	db.Exec(`ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`)
	db.Exec(`SELECT pg_reload_conf()`)
	db.Exec(`CREATE TABLE IF NOT EXISTS filler (id bigserial PRIMARY KEY, pad text)`)
	conn := db.Connect()
	defer conn.Close(context.Background())
	var status string
	eventually(t, 2*time.Minute, func() bool {
		db.Exec(`INSERT INTO filler (pad) SELECT repeat('x', 1000) FROM generate_series(1, 5000)`)
		db.Exec(`SELECT pg_switch_wal()`)
		db.Exec(`CHECKPOINT`)
		err := conn.QueryRow(context.Background(),
			`SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&status)
		return err == nil && status == "lost"
	}, func() string { return "slot " + slot + " never became lost: wal_status " + status })
}

// TestLostSlot invalidates projector's slot while it is stopped and rows
// change: with on_slot_lost: stop projector refuses to go on with a gap
// and says how to fix it; with rebootstrap it takes a new snapshot and
// rebuilds the view beside the old index, ending equal to the table.
func TestLostSlot(t *testing.T) {
	srv := testbed.NewPrivateServer(t)
	db := srv.NewDatabase()
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		INSERT INTO dishes SELECT g, 'dish ' || g FROM generate_series(1, 500) g`)
	addr := freePort(t)
	state := t.TempDir()
	config := func(onLost string) string {
		return writeConfig(t, fmt.Sprintf(`
sources:
  menu: { dsn: %q }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
capture: { on_slot_lost: %s }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    settings: { replicas: 0 }
`, db.DSN(), search.URL, search.Prefix, state, addr, onLost))
	}
	alias := search.Index("dishes")
	d := startDaemon(t, config("stop"), addr)
	d.waitReady(2 * time.Minute)
	waitCount(t, search, alias, 500)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}

	db.Exec(`DELETE FROM dishes WHERE id <= 100`)
	db.Exec(`UPDATE dishes SET name = 'renamed' WHERE id = 200`)
	loseSlot(t, db, "projector_menu")

	cmd := exec.Command(binary, "run", "-c", config("stop"))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("run with a lost slot and on_slot_lost: stop: %v\n%s", err, out)
	}
	for _, want := range []string{"wal_status = lost", "on_slot_lost: rebootstrap"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the error does not say %q:\n%s", want, out)
		}
	}

	d = startDaemon(t, config("rebootstrap"), addr)
	waitAlias(t, search, alias, alias+"_v2")
	waitCount(t, search, alias, 400)
	waitDoc(t, search, alias, "200", func(doc map[string]any) bool { return doc["name"] == "renamed" })
	d.waitReady(time.Minute)
	db.Exec(`INSERT INTO dishes VALUES (9999, 'after the new snapshot')`)
	waitDoc(t, search, alias, "9999", func(map[string]any) bool { return true })
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}
