package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

const (
	sourcePassword = "pw-Never-In-Logs-7731"
	sinkPassword   = "sink-Secret-Never-Shown-4409"
)

// withPassword puts a password into a test-bed DSN. The test bed trusts
// loopback connections, so the password is never checked, only carried:
// exactly what is needed to prove it never leaks.
func withPassword(dsn string) string {
	return strings.Replace(dsn, "postgres://postgres@", "postgres://postgres:"+sourcePassword+"@", 1)
}

// TestDaemonMetricsHealthAndShutdown runs projector as a process over two
// servers, scrapes every documented metric, checks /healthz and /readyz,
// and stops it with SIGTERM: it must exit cleanly with the last change
// confirmed to the source, and never print a password.
func TestDaemonMetricsHealthAndShutdown(t *testing.T) {
	shop := testbed.NewDatabase(t, testbed.Primary)
	people := testbed.NewDatabase(t, testbed.Secondary)
	search := testbed.NewSearch(t)
	shop.Exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, status text, placed_at timestamptz);
		INSERT INTO orders SELECT g, g % 7, 'placed', '2026-01-01T00:00:00Z' FROM generate_series(1, 300) g`)
	people.Exec(`CREATE TABLE customers (id bigint PRIMARY KEY, name text);
		INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(0, 6) g`)

	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  shop:   { dsn: %q }
  people: { dsn: "${PEOPLE_DSN}" }
sink:
  urls: [%q]
  username: elastic
  password: ${SINK_PASSWORD}
  index_prefix: %s
  flush_interval: 100ms
state: { dir: %q }
http: { listen: %q }
readiness: { max_lag: 30s }
views:
  - name: orders
    root: { source: shop, table: orders }
    fields: [id, status, placed_at]
    relations:
      - name: customer
        type: belongs_to
        source: people
        table: customers
        on: { customer_id: id }
        fields: [name]
`, withPassword(shop.DSN()), search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr, "PEOPLE_DSN="+withPassword(people.DSN()), "SINK_PASSWORD="+sinkPassword)

	code, body, err := waitHTTP(t, d, "/healthz")
	if err != nil || code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz: %d %q %v", code, body, err)
	}
	d.waitReady(2 * time.Minute)

	// Changes after the snapshot: new orders and a rename that fans out.
	conn := shop.Connect()
	defer conn.Close(context.Background())
	for i := 301; i <= 350; i++ {
		shop.Exec(`INSERT INTO orders VALUES ($1::bigint, $1::bigint % 7, 'placed', now())`, i)
	}
	people.Exec(`UPDATE customers SET name = 'renamed' WHERE id = 3`)
	var beforeCommit string
	err = conn.QueryRow(context.Background(),
		`UPDATE orders SET status = 'delivered' WHERE id = 350 RETURNING pg_current_wal_insert_lsn()::text`).Scan(&beforeCommit)
	if err != nil {
		t.Fatal(err)
	}
	waitDoc(t, search, search.Index("orders"), "350", func(doc map[string]any) bool {
		return doc["status"] == "delivered"
	})
	waitDoc(t, search, search.Index("orders"), "3", func(doc map[string]any) bool {
		c, _ := doc["customer"].(map[string]any)
		return c != nil && c["name"] == "renamed"
	})

	// Every documented metric, with sensible values once caught up.
	eventually(t, time.Minute, func() bool {
		m := d.metrics()
		shopLag, ok1 := sample(m, "projector_source_lag_bytes", map[string]string{"source": "shop"})
		peopleLag, ok2 := sample(m, "projector_source_lag_bytes", map[string]string{"source": "people"})
		return ok1 && ok2 && shopLag == 0 && peopleLag == 0
	}, func() string { return "projector_source_lag_bytes did not drop to 0 after catching up" })
	m := d.metrics()
	checks := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"projector_source_lag_seconds", map[string]string{"source": "shop"}, 0},
		{"projector_source_lag_seconds", map[string]string{"source": "people"}, 0},
		{"projector_view_lag_seconds", map[string]string{"view": "orders"}, 1},
		{"projector_slot_retained_wal_bytes", map[string]string{"source": "shop"}, 1},
		{"projector_slot_retained_wal_bytes", map[string]string{"source": "people"}, 1},
		{"projector_changes_total", map[string]string{"source": "shop", "table": "public.orders", "op": "insert"}, 50},
		{"projector_changes_total", map[string]string{"source": "shop", "table": "public.orders", "op": "update"}, 1},
		{"projector_changes_total", map[string]string{"source": "people", "table": "public.customers", "op": "update"}, 1},
		{"projector_snapshot_rows_total", map[string]string{"source": "shop", "table": "public.orders"}, 300},
		{"projector_snapshot_rows_total", map[string]string{"source": "people", "table": "public.customers"}, 7},
		{"projector_documents_written_total", map[string]string{"view": "orders", "action": "index"}, 350 + 43},
		{"projector_bulk_duration_seconds", nil, 1},
		{"projector_bulk_retries_total", nil, 0},
		{"projector_dead_letters_total", map[string]string{"view": "orders"}, 0},
		{"projector_errors_total", map[string]string{"stage": "capture"}, 0},
		{"projector_errors_total", map[string]string{"stage": "sink"}, 0},
		{"projector_ready", nil, 1},
		{"projector_build_info", nil, 1},
		{"go_goroutines", nil, 1},
		{"process_resident_memory_bytes", nil, 1},
	}
	for _, c := range checks {
		v, ok := sample(m, c.name, c.labels)
		if !ok {
			t.Errorf("metric %s%v missing", c.name, c.labels)
			continue
		}
		if v < c.min {
			t.Errorf("metric %s%v = %v, want >= %v", c.name, c.labels, v, c.min)
		}
	}
	if lag, _ := sample(m, "projector_source_lag_seconds", map[string]string{"source": "shop"}); lag > 5 {
		t.Errorf("projector_source_lag_seconds{source=shop} = %v after catching up", lag)
	}

	if err := d.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("projector did not exit cleanly on SIGTERM: %v", err)
	}
	out := d.out.String()
	if !strings.Contains(out, "stopped cleanly") {
		t.Errorf("no clean-stop line in the output")
	}
	for _, secret := range []string{sourcePassword, sinkPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("a password appears in projector's output")
		}
	}
	var confirmed string
	err = conn.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots
		WHERE slot_name = 'projector_shop' AND database = current_database()`).Scan(&confirmed)
	if err != nil {
		t.Fatal(err)
	}
	if !lsnAfter(t, confirmed, beforeCommit) {
		t.Errorf("slot confirmed %s, not past the last transaction (written before %s)", confirmed, beforeCommit)
	}
}

func waitHTTP(t *testing.T, d *process, path string) (int, string, error) {
	var code int
	var body string
	var err error
	eventually(t, 30*time.Second, func() bool {
		code, body, err = d.get(path)
		return err == nil
	}, func() string { return fmt.Sprintf("%s never answered: %v", path, err) })
	return code, body, err
}

// waitDoc polls the index until the document exists and ok accepts it.
func waitDoc(t *testing.T, search *testbed.Search, index, id string, ok func(map[string]any) bool) {
	t.Helper()
	var last string
	eventually(t, time.Minute, func() bool {
		body, err := search.Do("GET", "/"+index+"/_doc/"+id, nil)
		if err != nil {
			last = err.Error()
			return false
		}
		var res struct {
			Source map[string]any `json:"_source"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			last = err.Error()
			return false
		}
		last = string(body)
		return ok(res.Source)
	}, func() string { return fmt.Sprintf("document %s/%s: %s", index, id, last) })
}

func lsnAfter(t *testing.T, a, b string) bool {
	t.Helper()
	var x1, x2, y1, y2 uint64
	if _, err := fmt.Sscanf(a, "%X/%X", &x1, &x2); err != nil {
		t.Fatalf("parse LSN %q: %v", a, err)
	}
	if _, err := fmt.Sscanf(b, "%X/%X", &y1, &y2); err != nil {
		t.Fatalf("parse LSN %q: %v", b, err)
	}
	return x1<<32|x2 > y1<<32|y2
}
