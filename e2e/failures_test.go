package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// requirePassword makes the private server check role's password with
// SCRAM, over ordinary and replication connections alike: the test bed
// trusts every loopback connection otherwise.
func requirePassword(t *testing.T, srv *testbed.PrivateServer, db *testbed.Database, role string) {
	t.Helper()
	hba := filepath.Join("..", ".testbed", "pg", strconv.Itoa(srv.Port), "data", "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	rules := fmt.Sprintf("host all %[1]s 127.0.0.1/32 scram-sha-256\nhost replication %[1]s 127.0.0.1/32 scram-sha-256\n", role)
	if err := os.WriteFile(hba, append([]byte(rules), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	db.Exec(`SELECT pg_reload_conf()`)
}

// waitUnready polls /readyz until it answers 503 with every one of want
// in its body, and returns the body.
func (d *process) waitUnready(within time.Duration, want ...string) string {
	d.t.Helper()
	var last string
	eventually(d.t, within, func() bool {
		if d.exited() {
			d.t.Fatalf("projector exited: %v", d.err)
		}
		code, body, err := d.get("/readyz")
		last = fmt.Sprint(code, " ", strings.TrimSpace(body), " ", err)
		if err != nil || code != http.StatusServiceUnavailable {
			return false
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("/readyz never said %q: %s", want, last) })
	return last
}

// gauge reads one series of the daemon's metrics and fails when it is
// not exported.
func (d *process) gauge(name string, labels map[string]string) float64 {
	d.t.Helper()
	v, ok := sample(d.metrics(), name, labels)
	if !ok {
		d.t.Fatalf("metric %s%v is not exported", name, labels)
	}
	return v
}

// TestWrongPasswordStopsOnlyItsSource starts projector with two sources,
// one of them with a wrong password. Before, the process exited at start
// and took the healthy source down with it. Now the bad source stops
// within seconds after one attempt, /readyz and projector_source_failed
// say why, and the other source's view is built and kept up to date.
func TestWrongPasswordStopsOnlyItsSource(t *testing.T) {
	srv := testbed.NewPrivateServer(t)
	stock := srv.NewDatabase()
	stock.Exec(`CREATE ROLE app LOGIN REPLICATION PASSWORD 'the-right-one';
		CREATE TABLE items (id bigint PRIMARY KEY, name text); ALTER TABLE items OWNER TO app`)
	requirePassword(t, srv, stock, "app")
	menu := testbed.NewDatabase(t, testbed.Primary)
	menu.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		INSERT INTO dishes SELECT g, 'dish ' || g FROM generate_series(1, 50) g`)
	search := testbed.NewSearch(t)
	addr := freePort(t)
	badDSN := strings.Replace(stock.DSN(), "postgres://postgres@", "postgres://app:"+sourcePassword+"@", 1)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  menu:  { dsn: %q }
  stock: { dsn: %q }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    settings: { replicas: 0 }
  - name: items
    root: { source: stock, table: items }
    settings: { replicas: 0 }
`, menu.DSN(), badDSN, search.URL, search.Prefix, t.TempDir(), addr))

	started := time.Now()
	d := startDaemon(t, cfg, addr)
	body := d.waitUnready(30*time.Second, "source stock: stopped", "credentials", "SQLSTATE 28P01", "view items: not maintained")
	if took := time.Since(started); took > 20*time.Second {
		t.Errorf("the source stopped after %s, want seconds", took)
	}
	for _, secret := range []string{sourcePassword, "app", "127.0.0.1", strconv.Itoa(srv.Port)} {
		if strings.Contains(body, secret) {
			t.Errorf("/readyz shows connection details (%q): %s", secret, body)
		}
	}
	waitCount(t, search, search.Index("dishes"), 50)
	menu.Exec(`INSERT INTO dishes VALUES (51, 'after the start')`)
	waitDoc(t, search, search.Index("dishes"), "51", func(doc map[string]any) bool { return doc["name"] == "after the start" })

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"projector_source_failed", map[string]string{"source": "stock", "reason": "authentication"}, 1},
		{"projector_source_failed", map[string]string{"source": "stock", "reason": "privilege"}, 0},
		{"projector_source_failed", map[string]string{"source": "menu", "reason": "authentication"}, 0},
		{"projector_view_available", map[string]string{"view": "dishes"}, 1},
		{"projector_view_available", map[string]string{"view": "items"}, 0},
		{"projector_ready", nil, 0},
	} {
		if got := d.gauge(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// It never loops: one attempt, one error line, however long it runs.
	time.Sleep(5 * time.Second)
	out := d.out.String()
	if n := strings.Count(out, "password authentication failed"); n != 1 {
		t.Errorf("the password failure is logged %d times, want once", n)
	}
	if strings.Contains(out, "retrying: describe source stock") {
		t.Errorf("the wrong password was retried")
	}
	if strings.Contains(out, sourcePassword) {
		t.Errorf("the log shows the password")
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestRoleThatCannotPublishStopsItsSource gives projector a role with
// REPLICATION that does not own the tables, so it may not create the
// publication. Before, run failed with "must be owner of table" and the
// process exited; now the source stops with the fix, once, and projector
// stays up saying why.
func TestRoleThatCannotPublishStopsItsSource(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	role := testbed.UniqueName("app_")
	db.Exec(`CREATE ROLE ` + role + ` LOGIN REPLICATION`)
	t.Cleanup(func() { db.Exec(`DROP OWNED BY ` + role + `; DROP ROLE ` + role) })
	db.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text); GRANT SELECT ON dishes TO ` + role +
		`; GRANT CREATE ON DATABASE ` + db.Name + ` TO ` + role)
	search := testbed.NewSearch(t)
	addr := freePort(t)
	dsn := strings.Replace(db.DSN(), "postgres://postgres@", "postgres://"+role+"@", 1)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  menu: { dsn: %q }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    settings: { replicas: 0 }
`, dsn, search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr)
	d.waitUnready(30*time.Second, "source menu: stopped", "replication prerequisite")
	if got := d.gauge("projector_source_failed", map[string]string{"source": "menu", "reason": "prerequisite"}); got != 1 {
		t.Errorf("projector_source_failed{menu,prerequisite} = %v, want 1", got)
	}
	time.Sleep(5 * time.Second)
	out := d.out.String()
	if n := strings.Count(out, "only a table's owner may publish it"); n != 1 {
		t.Errorf("the ownership problem is logged %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, "replication interrupted; reconnecting") {
		t.Errorf("a problem retrying cannot fix was retried")
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestDroppedTableDoesNotBlockStart drops the table of one of two views
// while projector is stopped. Before, the next start failed on the view
// over the missing table and nothing ran; now that view is reported
// (/readyz, projector_view_available, one log line) and the other one
// runs.
func TestDroppedTableDoesNotBlockStart(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		CREATE TABLE sides (id bigint PRIMARY KEY, name text);
		INSERT INTO dishes SELECT g, 'dish ' || g FROM generate_series(1, 20) g;
		INSERT INTO sides SELECT g, 'side ' || g FROM generate_series(1, 5) g`)
	search := testbed.NewSearch(t)
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  menu: { dsn: %q }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    settings: { replicas: 0 }
  - name: sides
    root: { source: menu, table: sides }
    settings: { replicas: 0 }
`, db.DSN(), search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr)
	d.waitReady(2 * time.Minute)
	waitCount(t, search, search.Index("sides"), 5)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}

	db.Exec(`DROP TABLE sides`)
	db.Exec(`INSERT INTO dishes VALUES (21, 'while stopped')`)
	d = startDaemon(t, cfg, addr)
	d.waitUnready(time.Minute, "view sides: not maintained: table public.sides of source menu does not exist")
	waitDoc(t, search, search.Index("dishes"), "21", func(doc map[string]any) bool { return doc["name"] == "while stopped" })
	db.Exec(`INSERT INTO dishes VALUES (22, 'after the start')`)
	waitDoc(t, search, search.Index("dishes"), "22", func(doc map[string]any) bool { return doc["name"] == "after the start" })
	if got := d.gauge("projector_view_available", map[string]string{"view": "sides"}); got != 0 {
		t.Errorf("projector_view_available{sides} = %v, want 0", got)
	}
	if got := d.gauge("projector_view_available", map[string]string{"view": "dishes"}); got != 1 {
		t.Errorf("projector_view_available{dishes} = %v, want 1", got)
	}
	if n := strings.Count(d.out.String(), "view not maintained"); n != 1 {
		t.Errorf("the missing table is logged %d times, want once", n)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestSourceFailingWhileRunningStopsAlone revokes the login of one
// source's role while projector streams from two sources, and ends its
// connections: the reconnect is refused for good (SQLSTATE 28000). Before,
// that ended the process; now that source stops after one try, says why,
// and the other source goes on streaming.
func TestSourceFailingWhileRunningStopsAlone(t *testing.T) {
	menu := testbed.NewDatabase(t, testbed.Primary)
	menu.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		INSERT INTO dishes SELECT g, 'dish ' || g FROM generate_series(1, 10) g`)
	stock := testbed.NewDatabase(t, testbed.Primary)
	role := testbed.UniqueName("app_")
	stock.Exec(`CREATE ROLE ` + role + ` LOGIN REPLICATION`)
	t.Cleanup(func() { stock.Exec(`DROP OWNED BY ` + role + `; DROP ROLE ` + role) })
	stock.Exec(`CREATE TABLE items (id bigint PRIMARY KEY, name text); ALTER TABLE items OWNER TO ` + role +
		`; GRANT CREATE ON DATABASE ` + stock.Name + ` TO ` + role + `;
		INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10) g`)
	search := testbed.NewSearch(t)
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  menu:  { dsn: %q }
  stock: { dsn: %q }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    settings: { replicas: 0 }
  - name: items
    root: { source: stock, table: items }
    settings: { replicas: 0 }
`, menu.DSN(), strings.Replace(stock.DSN(), "postgres://postgres@", "postgres://"+role+"@", 1),
		search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr)
	d.waitReady(2 * time.Minute)
	waitCount(t, search, search.Index("items"), 10)

	stock.Exec(`ALTER ROLE ` + role + ` NOLOGIN`)
	stock.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
	d.waitUnready(30*time.Second, "source stock: stopped", "credentials", "SQLSTATE 28000")
	menu.Exec(`INSERT INTO dishes VALUES (11, 'still streaming')`)
	waitDoc(t, search, search.Index("dishes"), "11", func(doc map[string]any) bool { return doc["name"] == "still streaming" })
	if got := d.gauge("projector_source_failed", map[string]string{"source": "stock", "reason": "authentication"}); got != 1 {
		t.Errorf("projector_source_failed{stock,authentication} = %v, want 1", got)
	}
	for view, want := range map[string]float64{"items": 0, "dishes": 1} {
		if got := d.gauge("projector_view_available", map[string]string{"view": view}); got != want {
			t.Errorf("projector_view_available{%s} = %v, want %v", view, got, want)
		}
	}
	time.Sleep(5 * time.Second)
	out := d.out.String()
	if n := strings.Count(out, "source stopped"); n != 1 {
		t.Errorf("the stop is logged %d times, want once", n)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "replication interrupted") && strings.Contains(line, "is not permitted to log in") {
			t.Errorf("the refused login was retried: %s", line)
		}
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// notPostgres listens on a loopback port and answers every connection
// with an HTTP error, as a DSN pointing at the wrong service would.
func notPostgres(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// TestUnknownErrorIsRetriedABoundedNumberOfTimes points a source at a
// service that is not PostgreSQL: an error of no known kind, which might
// heal. projector tries it five times, then stops that source saying it
// gave up; the other source runs meanwhile.
func TestUnknownErrorIsRetriedABoundedNumberOfTimes(t *testing.T) {
	menu := testbed.NewDatabase(t, testbed.Primary)
	menu.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text); INSERT INTO dishes VALUES (1, 'soup')`)
	search := testbed.NewSearch(t)
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  menu:  { dsn: %q }
  stock: { dsn: "postgres://app@%s/stock?sslmode=disable" }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    settings: { replicas: 0 }
  - name: items
    root: { source: stock, table: items }
    settings: { replicas: 0 }
`, menu.DSN(), notPostgres(t), search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr)
	d.waitUnready(time.Minute, "source stock: stopped", "an error persisted through every retry")
	out := d.out.String()
	if n := retriesOf(out, "source stock"); n != 4 {
		t.Errorf("retried %d times before giving up, want 4 (5 tries)", n)
	}
	if !strings.Contains(out, "gave up after 5 tries") {
		t.Errorf("the stop does not say it gave up after 5 tries")
	}
	if got := d.gauge("projector_source_failed", map[string]string{"source": "stock", "reason": "retries_exhausted"}); got != 1 {
		t.Errorf("projector_source_failed{stock,retries_exhausted} = %v, want 1", got)
	}
	waitDoc(t, search, search.Index("dishes"), "1", func(doc map[string]any) bool { return doc["name"] == "soup" })
	time.Sleep(3 * time.Second)
	if n := retriesOf(d.out.String(), "source stock"); n != 4 {
		t.Errorf("retried again after giving up: %d retries", n)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// retriesOf counts the log lines of retries of what; the first connection
// to a source (to take its lock, or to describe it) is the one retried.
func retriesOf(out, what string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `msg="retrying: `) && strings.Contains(line, what) {
			n++
		}
	}
	return n
}
