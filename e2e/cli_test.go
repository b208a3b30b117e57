package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestTailAndSlots follows changes with `projector tail` (which must leave
// no slot behind) and lists and drops a slot with `projector slots`.
func TestTailAndSlots(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text, price numeric(8,2))`)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  menu: { dsn: %q, event_types: { dishes: { created: DishAdded } } }
sink:
  urls: ["http://127.0.0.1:9200"]
views:
  - name: dishes
    root: { source: menu, table: dishes }
`, db.DSN()))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tail := startTail(ctx, t, "-c", cfg, "--source", "menu")
	db.Exec(`INSERT INTO dishes VALUES (1, 'Pad Thai', 11.50)`)
	db.Exec(`UPDATE dishes SET price = 12.00 WHERE id = 1`)

	lines := bufio.NewScanner(tail.stdout)
	var got []map[string]any
	for len(got) < 2 && lines.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("tail printed a line that is not JSON: %q", lines.Text())
		}
		got = append(got, ev)
	}
	if len(got) < 2 {
		t.Fatalf("tail printed %d events: %v\n%s", len(got), lines.Err(), tail.stderr)
	}
	if got[0]["type"] != "DishAdded" || got[1]["type"] != "dishes.updated" {
		t.Errorf("event types %v, %v", got[0]["type"], got[1]["type"])
	}
	after, _ := got[1]["after"].(map[string]any)
	if after["price"] != "12.00" || got[1]["commit_lsn"] == nil || got[1]["xid"] == nil {
		t.Errorf("update event %v", got[1])
	}
	tail.stop()

	var slots int
	eventually(t, 30*time.Second, func() bool {
		conn := db.Connect()
		defer conn.Close(context.Background())
		err := conn.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_replication_slots WHERE database = current_database()`).Scan(&slots)
		return err == nil && slots == 0
	}, func() string { return fmt.Sprintf("%d slots left behind by tail", slots) })

	db.Exec(`SELECT pg_create_logical_replication_slot('projector_menu', 'pgoutput')`)
	out, err := exec.Command(binary, "slots", "list", "-c", cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "projector_menu") || !strings.Contains(string(out), "RETAINED WAL") {
		t.Fatalf("slots list: %v\n%s", err, out)
	}
	if out, err := exec.Command(binary, "slots", "drop", "-c", cfg).CombinedOutput(); err == nil {
		t.Fatalf("slots drop without --yes succeeded:\n%s", out)
	}
	if out, err := exec.Command(binary, "slots", "drop", "-c", cfg, "--yes").CombinedOutput(); err != nil {
		t.Fatalf("slots drop: %v\n%s", err, out)
	}
	out, _ = exec.Command(binary, "slots", "list", "-c", cfg).CombinedOutput()
	if !strings.Contains(string(out), "no slot yet") {
		t.Errorf("slot still listed after drop:\n%s", out)
	}
}
