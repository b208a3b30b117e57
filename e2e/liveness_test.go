package e2e

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestSilentSourceConnection makes the source unreachable without a reset
// (the proxy stops forwarding and closes nothing), writes meanwhile, and
// brings it back: projector must notice within capture.receive_timeout,
// show the source disconnected with a growing lag, keep /readyz free of
// connection details and its log free of a warning flood, and end with
// every change indexed.
func TestSilentSourceConnection(t *testing.T) {
	shop := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	shop.Exec(`CREATE TABLE orders (id bigint PRIMARY KEY, status text);
		INSERT INTO orders SELECT g, 'placed' FROM generate_series(1, 200) g`)
	u, err := url.Parse(shop.DSN())
	if err != nil {
		t.Fatal(err)
	}
	proxy := testbed.NewProxy(t, u.Host)
	u.Host = proxy.Addr()

	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  shop: { dsn: %q }
sink:
  urls: [%q]
  index_prefix: %s
  flush_interval: 100ms
state: { dir: %q }
http: { listen: %q }
capture: { receive_timeout: 4s }
readiness: { max_lag: 1m }
views:
  - name: orders
    root: { source: shop, table: orders }
    fields: [id, status]
`, u.String(), search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr)
	d.waitReady(2 * time.Minute)
	shopLabel := map[string]string{"source": "shop"}
	if v, ok := sample(d.metrics(), "projector_source_connected", shopLabel); !ok || v != 1 {
		t.Fatalf("projector_source_connected{source=shop} = %v (present %v) while streaming, want 1", v, ok)
	}

	proxy.Blackhole()
	cut := time.Now()
	shop.Exec(`INSERT INTO orders SELECT g, 'placed while unreachable' FROM generate_series(201, 300) g`)
	eventually(t, 30*time.Second, func() bool {
		v, _ := sample(d.metrics(), "projector_source_connected", shopLabel)
		return v == 0
	}, func() string { return "projector still counts the silent source as connected" })
	t.Logf("the silent connection was given up after %s", time.Since(cut).Round(100*time.Millisecond))
	m := d.metrics()
	lag1, _ := sample(m, "projector_source_lag_seconds", shopLabel)
	age1, _ := sample(m, "projector_source_last_message_age_seconds", shopLabel)
	time.Sleep(3 * time.Second)
	m = d.metrics()
	lag2, _ := sample(m, "projector_source_lag_seconds", shopLabel)
	age2, _ := sample(m, "projector_source_last_message_age_seconds", shopLabel)
	if lag2 < lag1+2 || age2 < age1+2 {
		t.Errorf("while unreachable, over 3 s lag went %.1f → %.1f s and last message age %.1f → %.1f s; want both growing", lag1, lag2, age1, age2)
	}
	var readyz string
	eventually(t, 30*time.Second, func() bool {
		code, body, err := d.get("/readyz")
		readyz = body
		return err == nil && code == 503 && strings.Contains(body, "source shop")
	}, func() string { return "/readyz does not name the unreachable source: " + readyz })
	for _, detail := range []string{proxy.Addr(), shop.Name, "user="} {
		if strings.Contains(readyz, detail) {
			t.Errorf("/readyz shows %q: %q", detail, readyz)
		}
	}
	time.Sleep(5 * time.Second) // more measurements while the source stays away
	if n := strings.Count(d.out.String(), "cannot measure source lag"); n > 2 {
		t.Errorf("%d lag warnings in %s of outage, want one per 30 s", n, time.Since(cut).Round(time.Second))
	}

	proxy.Restore()
	d.waitReady(2 * time.Minute)
	waitCount(t, search, search.Index("orders"), 300)
	if d.exited() {
		t.Fatalf("projector exited: %v", d.err)
	}
}

// TestFullStateDisk fills the file system of the state directory (a small
// tmpfs) while projector streams: it must exit with one clear error rather
// than spin or panic, and, restarted on the same state once there is room,
// index every row.
func TestFullStateDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("mounting a small file system for the state needs root, which CI has")
		}
		t.Skip("mounting a small file system for the state needs root")
	}
	shop := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	shop.Exec(`CREATE TABLE orders (id bigint PRIMARY KEY, note text);
		INSERT INTO orders SELECT g, 'first' FROM generate_series(1, 100) g`)
	state := t.TempDir()
	mount(t, "mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", state)
	t.Cleanup(func() { mount(t, "umount", state) })

	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  shop: { dsn: %q }
sink:
  urls: [%q]
  index_prefix: %s
  flush_interval: 100ms
state: { dir: %q }
http: { listen: %q }
views:
  - name: orders
    root: { source: shop, table: orders }
    fields: [id, note]
`, shop.DSN(), search.URL, search.Prefix, state+"/state", addr))
	d := startDaemon(t, cfg, addr)
	d.waitReady(2 * time.Minute)

	// Rows that do not compress, until the state's file system is full.
	const rows = 40000
	for i := 0; i < rows; i += 2000 {
		shop.Exec(`INSERT INTO orders SELECT g, md5(g::text) || repeat(md5(random()::text), 32)
			FROM generate_series($1::bigint, $1::bigint + 1999) g`, 101+i)
	}
	select {
	case <-d.done:
	case <-time.After(3 * time.Minute):
		t.Fatal("projector kept running with a full state disk")
	}
	out := d.out.String()
	if d.err == nil {
		t.Errorf("projector exited with status 0 on a full state disk")
	}
	if !strings.Contains(out, "no space left on device") {
		t.Errorf("the exit does not say the disk is full")
	}
	if n := strings.Count(out, "no space left on device"); n > 20 {
		t.Errorf("%d log lines about the full disk, want a handful", n)
	}
	if strings.Contains(out, "stack trace") || strings.Contains(out, "panic:") {
		t.Errorf("the storage engine's stack traces reach the log, or it panicked")
	}
	t.Logf("projector stopped on the full disk; its last lines:\n%s", tail(out, 5))

	// Room again: the same state resumes and nothing is missing.
	mount(t, "mount", "-o", "remount,size=512m", state)
	d2 := startDaemon(t, cfg, addr)
	d2.waitReady(3 * time.Minute)
	waitCount(t, search, search.Index("orders"), 100+rows)
	if err := d2.stop(15, 30*time.Second); err != nil {
		t.Errorf("projector stopped with %v", err)
	}
}

func mount(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
