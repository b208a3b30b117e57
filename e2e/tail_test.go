package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestTailPrintsEveryValue follows rows whose values JSON cannot carry as
// they are (years above 9999 and before 1 BC, NaN and infinite floats,
// also in arrays): tail must print each as a string, as the documents in
// the index hold it, keep running, and print the row after them.
func TestTailPrintsEveryValue(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE odd (id bigint PRIMARY KEY, at timestamptz, ts timestamp, d date, f float8, r real, fs float8[])`)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  shop: { dsn: %q }
sink:
  urls: ["http://127.0.0.1:9200"]
views:
  - name: odd
    root: { source: shop, table: odd }
`, db.DSN()))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tail := startTail(ctx, t, "-c", cfg)
	db.Exec(`INSERT INTO odd VALUES
		(1, '10000-01-01 00:00:00+00', '12345-06-07 08:09:10', '10000-01-01', 'NaN', 'Infinity', '{1.5,-Infinity,NaN}'),
		(2, '0001-01-01 00:00:00+00 BC', '4713-01-01 00:00:00 BC', '0002-01-01 BC', '-Infinity', '-Infinity', '{}'),
		(3, 'infinity', '-infinity', 'infinity', 1.5, 2.5, '{1}')`)
	db.Exec(`INSERT INTO odd VALUES (4, '2026-01-01 00:00:00+00', NULL, NULL, 0, 0, NULL)`)

	lines := bufio.NewScanner(tail.stdout)
	got := map[string]map[string]any{}
	for len(got) < 4 && lines.Scan() {
		var ev struct {
			After map[string]any `json:"after"`
		}
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("tail printed a line that is not JSON: %q", lines.Text())
		}
		got[fmt.Sprint(ev.After["id"])] = ev.After
	}
	if len(got) < 4 {
		select {
		case <-tail.exited:
			t.Fatalf("tail exited after %d events: %v\n%s", len(got), tail.err, tail.stderr)
		default:
			t.Fatalf("tail printed %d events: %v\n%s", len(got), lines.Err(), tail.stderr)
		}
	}
	want := map[string]map[string]any{
		"1": {"at": "+10000-01-01T00:00:00Z", "ts": "+12345-06-07T08:09:10Z", "d": "+10000-01-01T00:00:00Z",
			"f": "NaN", "r": "Infinity", "fs": []any{1.5, "-Infinity", "NaN"}},
		"2": {"at": "0000-01-01T00:00:00Z", "ts": "-4712-01-01T00:00:00Z", "d": "-0001-01-01T00:00:00Z",
			"f": "-Infinity", "r": "-Infinity"},
		"3": {"at": "infinity", "ts": "-infinity", "d": "infinity", "f": 1.5, "r": 2.5},
		"4": {"at": "2026-01-01T00:00:00Z", "f": 0.0},
	}
	for id, cols := range want {
		for col, v := range cols {
			if fmt.Sprint(got[id][col]) != fmt.Sprint(v) {
				t.Errorf("row %s column %s printed as %#v, want %#v", id, col, got[id][col], v)
			}
		}
	}
}
