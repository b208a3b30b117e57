package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/fooddelivery"
)

// TestChaosSlotReplaced drops the orders source's slot and creates another
// under the same name during the workload, with on_slot_lost: rebootstrap.
// projector must not take the new slot for its own: it takes a new
// snapshot of the source and rebuilds the view, ending with zero drift.
func TestChaosSlotReplaced(t *testing.T) {
	fx := newChaosFixture(t, chaosOptions{size: fooddelivery.SizeForOrders(chaosOrders)})
	appendConfig(t, fx.cfgPath, "capture:\n  on_slot_lost: rebootstrap\n")
	alias := fx.alias("order_history")
	watch := watchVersions(t, fx.search, alias)
	d := fx.start(t)
	d.waitReady(3 * time.Minute)

	work := startWorkload(t, fx.dbs)
	eventually(t, 4*time.Minute, func() bool { return work.progress() >= chaosOps/3 },
		func() string { return "the workload did not progress" })
	replaceSlot(t, fx.orders, fx.search.Prefix+"orders", nil)
	end := endOfFault(d)
	waitAlias(t, fx.search, alias, alias+"_v2")
	recovery(t, d, end, work, 3*time.Minute)
	fx.conclude(t, d, end, work, watch)
}

// TestChaosSecondInstance starts a second projector with the same
// configuration and an empty state directory during the workload. It must
// refuse to start, and the first must go on with zero drift.
func TestChaosSecondInstance(t *testing.T) {
	fx := newChaosFixture(t, chaosOptions{size: fooddelivery.SizeForOrders(chaosOrders)})
	watch := watchVersions(t, fx.search, fx.alias("order_history"))
	d := fx.start(t)
	d.waitReady(3 * time.Minute)

	work := startWorkload(t, fx.dbs)
	eventually(t, 4*time.Minute, func() bool { return work.progress() >= chaosOps/3 },
		func() string { return "the workload did not progress" })
	second := copyConfig(t, fx.cfgPath, map[string]string{
		fx.stateDir: filepath.Join(t.TempDir(), "state"),
		fx.addr:     freePort(t),
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "run", "-c", second)
	cmd.Env = append(os.Environ(), fx.env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || ctx.Err() != nil {
		t.Fatalf("a second instance did not refuse to start: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "is locked by pid") {
		t.Errorf("the refusal does not name the running instance:\n%s", out)
	}
	end := endOfFault(d)
	fx.conclude(t, d, end, work, watch)
}

// TestChaosTableRecreated drops the consumers table and creates it again
// with the same name, columns and rows in one transaction during the
// workload. projector must notice the new table, take the consumers
// source again and rebuild the view, ending with zero drift.
func TestChaosTableRecreated(t *testing.T) {
	fx := newChaosFixture(t, chaosOptions{size: fooddelivery.SizeForOrders(chaosOrders)})
	alias := fx.alias("order_history")
	watch := watchVersions(t, fx.search, alias)
	d := fx.start(t)
	d.waitReady(3 * time.Minute)

	work := startWorkload(t, fx.dbs)
	eventually(t, 4*time.Minute, func() bool { return work.progress() >= chaosOps/3 },
		func() string { return "the workload did not progress" })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := fx.dbs.Consumers.Exec(ctx, `BEGIN;
		LOCK TABLE consumers IN ACCESS EXCLUSIVE MODE;
		CREATE TABLE consumers_new (LIKE consumers INCLUDING ALL);
		ALTER SEQUENCE consumers_id_seq OWNED BY consumers_new.id;
		INSERT INTO consumers_new SELECT * FROM consumers;
		DROP TABLE consumers;
		ALTER TABLE consumers_new RENAME TO consumers;
		COMMIT`)
	if err != nil {
		t.Fatalf("re-create consumers: %v", err)
	}
	end := endOfFault(d)
	waitAlias(t, fx.search, alias, alias+"_v2")
	recovery(t, d, end, work, 3*time.Minute)
	fx.conclude(t, d, end, work, watch)
	if n := strings.Count(d.out.String(), "source table re-created under a view"); n != 1 {
		t.Errorf("the re-created table was reported %d times, want once", n)
	}
}

// appendConfig adds top-level YAML to the configuration file at path.
func appendConfig(t *testing.T, path, yaml string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + yaml); err != nil {
		t.Fatal(err)
	}
}

// copyConfig writes a copy of the configuration at path with every old
// string replaced by its new one.
func copyConfig(t *testing.T, path string, replace map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for old, repl := range replace {
		if !strings.Contains(s, old) {
			t.Fatalf("%s does not contain %q", path, old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	return writeConfig(t, s)
}
