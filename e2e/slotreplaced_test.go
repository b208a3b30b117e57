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

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/internal/testbed"
)

// replaceSlot drops the slot and creates another under the same name, as
// a failover, a restore or a careless script does, first ending the
// walsender that holds it. between runs after the drop and before the
// creation: changes made then are in neither slot.
func replaceSlot(t *testing.T, db *testbed.Database, slot string, between func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// projector reconnects within seconds: end its walsender and drop the
	// slot until a drop finds the slot free.
	eventually(t, time.Minute, func() bool {
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(active_pid, 5000) FROM pg_replication_slots
			WHERE slot_name = $1 AND active_pid IS NOT NULL`, slot); err != nil {
			t.Fatalf("terminate the walsender of %s: %v", slot, err)
		}
		_, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot)
		return err == nil
	}, func() string { return "slot " + slot + " could not be dropped" })
	if between != nil {
		between()
	}
	if _, err := conn.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, slot); err != nil {
		t.Fatalf("create slot %s again: %v", slot, err)
	}
}

// TestReplacedSlot drops projector's slot and creates another under the
// same name while projector runs, with changes in between that neither
// slot holds. projector must not take the new slot for its own: with
// on_slot_lost: stop it exits saying why, and refuses again at the next
// start; with rebootstrap it takes a new snapshot and ends equal to the
// table.
func TestReplacedSlot(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		INSERT INTO dishes SELECT g, 'dish ' || g FROM generate_series(1, 500) g`)
	slot := search.Prefix + "menu"
	addr := freePort(t)
	state := t.TempDir()
	config := func(onLost string) string {
		return writeConfig(t, fmt.Sprintf(`
sources:
  menu: { dsn: %q, slot: %s }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
capture: { on_slot_lost: %s }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    settings: { replicas: 0 }
`, db.DSN(), slot, search.URL, search.Prefix, state, addr, onLost))
	}
	alias := search.Index("dishes")
	stop := config("stop")
	d := startDaemon(t, stop, addr)
	d.waitReady(2 * time.Minute)
	waitCount(t, search, alias, 500)

	replaceSlot(t, db, slot, func() {
		db.Exec(`DELETE FROM dishes WHERE id <= 100`)
		db.Exec(`UPDATE dishes SET name = 'renamed' WHERE id = 200`)
	})
	db.Exec(`INSERT INTO dishes VALUES (1001, 'after the replacement')`)
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		t.Fatal("projector goes on streaming from a slot that is not its own")
	}
	if !strings.Contains(d.out.String(), "on_slot_lost: rebootstrap") {
		t.Errorf("projector stopped without saying how to go on:\n%s", d.out.String())
	}

	// Stopped, the replacement is recognised at the next start.
	out, err := exec.Command(binary, "run", "-c", stop).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("run with a replaced slot and on_slot_lost: stop: %v\n%s", err, out)
	}
	for _, want := range []string{"is not the slot projector's state follows", "on_slot_lost: rebootstrap"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the error does not say %q:\n%s", want, out)
		}
	}

	rebootstrap := config("rebootstrap")
	d = startDaemon(t, rebootstrap, addr)
	waitAlias(t, search, alias, alias+"_v2")
	d.waitReady(2 * time.Minute)
	db.Exec(`INSERT INTO dishes VALUES (9999, 'after the new snapshot')`)
	waitDoc(t, search, alias, "9999", func(map[string]any) bool { return true })
	verifyViews(t, rebootstrap, nil, "dishes")
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}
