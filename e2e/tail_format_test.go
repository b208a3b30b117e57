package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestTailFormats follows one insert, update and delete with tail in each
// event format and checks the fields docs/events.md promises.
func TestTailFormats(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text, price numeric(8,2))`)
	db.Exec(`ALTER TABLE dishes REPLICA IDENTITY FULL`)
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
	formats := []string{"projector", "debezium", "cloudevents"}
	out := map[string]io.Reader{}
	for _, format := range formats {
		out[format] = startTail(ctx, t, "-c", cfg, "--format", format).stdout
	}
	db.Exec(`INSERT INTO dishes VALUES (1, 'Pad Thai', 11.50)`)
	db.Exec(`UPDATE dishes SET price = 12.00 WHERE id = 1`)
	db.Exec(`DELETE FROM dishes WHERE id = 1`)

	events := map[string][]map[string]any{}
	for _, format := range formats {
		lines := bufio.NewScanner(out[format])
		for len(events[format]) < 3 && lines.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
				t.Fatalf("%s: tail printed a line that is not JSON: %q", format, lines.Text())
			}
			events[format] = append(events[format], ev)
		}
		if len(events[format]) < 3 {
			t.Fatalf("%s: tail printed %d events: %v", format, len(events[format]), lines.Err())
		}
	}

	for i, want := range []struct {
		op, debezium, cloudType, changed string
	}{
		{"insert", "c", "DishAdded", "<nil>"},
		{"update", "u", "projector.public.dishes.updated", "[price]"},
		{"delete", "d", "projector.public.dishes.deleted", "<nil>"},
	} {
		p, d, c := events["projector"][i], events["debezium"][i], events["cloudevents"][i]
		if p["op"] != want.op || p["schema_version"] != 1.0 || fmt.Sprint(p["key"]) != "[id]" || fmt.Sprint(p["changed"]) != want.changed {
			t.Errorf("projector event %d: %v", i, p)
		}
		source, _ := d["source"].(map[string]any)
		if d["op"] != want.debezium || source["connector"] != "postgresql" || source["name"] != "menu" ||
			source["db"] != db.Name || source["table"] != "dishes" || source["snapshot"] != "false" ||
			source["txId"] == nil || source["lsn"] == nil || d["ts_ms"] == nil {
			t.Errorf("debezium event %d: %v", i, d)
		}
		data, _ := c["data"].(map[string]any)
		if c["specversion"] != "1.0" || c["type"] != want.cloudType || c["source"] != "/projector/sources/menu" ||
			c["subject"] != `{"id":1}` || c["id"] != p["id"] || data["op"] != want.op {
			t.Errorf("cloudevents event %d: %v", i, c)
		}
	}
	after, _ := events["debezium"][1]["after"].(map[string]any)
	before, _ := events["debezium"][1]["before"].(map[string]any)
	if after["price"] != "12.00" || before["price"] != "11.50" {
		t.Errorf("debezium update: before %v, after %v", before, after)
	}
}
