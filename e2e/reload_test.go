package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// reloadFixture is two sources, each under its own view, and the
// configuration file a running projector reloads on SIGHUP.
type reloadFixture struct {
	menu, shop *testbed.Database
	search     *testbed.Search
	addr       string
	state      string
	path       string
}

// reloadRows is how many dishes and orders there are at start.
const reloadRows = 500

func newReloadFixture(t *testing.T) *reloadFixture {
	t.Helper()
	fx := &reloadFixture{menu: testbed.NewDatabase(t, testbed.Primary), shop: testbed.NewDatabase(t, testbed.Primary),
		search: testbed.NewSearch(t), addr: freePort(t), state: t.TempDir()}
	fx.menu.Exec(fmt.Sprintf(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text, price_cents bigint);
		INSERT INTO dishes SELECT g, 'dish ' || g, g * 10 FROM generate_series(1, %d) g`, reloadRows))
	fx.shop.Exec(fmt.Sprintf(`CREATE TABLE orders (id bigserial PRIMARY KEY, dish_id bigint, status text);
		INSERT INTO orders (dish_id, status) SELECT g, 'placed' FROM generate_series(1, %d) g`, reloadRows))
	fx.path = writeConfig(t, fx.config(reloadViews("[id, name]", "")))
	return fx
}

// reloadViews are the views of the test: dishes with fields, orders, and
// extra ones.
func reloadViews(dishFields, extra string) string {
	return fmt.Sprintf(`
  - name: dishes
    root: { source: menu, table: dishes }
    fields: %s
    settings: { replicas: 0 }
  - name: orders
    root: { source: shop, table: orders }
    fields: [id, dish_id, status]
    settings: { replicas: 0 }
%s`, dishFields, extra)
}

// config is the whole file with views.
func (fx *reloadFixture) config(views string) string { return fx.configWith("", views) }

// configWith is the whole file with more sources and views.
func (fx *reloadFixture) configWith(sources, views string) string {
	return fmt.Sprintf(`
sources:
  menu: { dsn: %q, slot: %smenu }
  shop: { dsn: %q, slot: %sshop }
%s
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:%s`, fx.menu.DSN(), fx.search.Prefix, fx.shop.DSN(), fx.search.Prefix, sources, fx.search.URL, fx.search.Prefix,
		fx.state, fx.addr, views)
}

// rewrite replaces the configuration file in place, as an operator or a
// configuration management tool does before sending SIGHUP.
func (fx *reloadFixture) rewrite(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(fx.path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reload rewrites the file, sends SIGHUP and waits until the daemon
// counted the reload with result.
func (fx *reloadFixture) reload(t *testing.T, d *process, content, result string) {
	t.Helper()
	before, _ := sample(d.metrics(), "projector_config_reloads_total", map[string]string{"result": result})
	streaming := func(source string) int { return strings.Count(d.out.String(), "msg=streaming source="+source+" ") }
	menu, shop := streaming("menu"), streaming("shop")
	rejections := strings.Count(d.out.String(), "configuration reload rejected")
	fx.rewrite(t, content)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("send SIGHUP: %v", err)
	}
	eventually(t, time.Minute, func() bool {
		n, _ := sample(d.metrics(), "projector_config_reloads_total", map[string]string{"result": result})
		return n == before+1
	}, func() string { return "the reload was not counted as " + result })
	if result == "rejected" {
		// The counter can move before the log line reaches d.out through
		// the process's pipe; the caller reads the line next.
		eventually(t, 10*time.Second, func() bool {
			return strings.Count(d.out.String(), "configuration reload rejected") > rejections
		}, func() string { return "the rejected reload was not logged" })
	}
	if result == "ok" {
		// Applied: the pipeline restarted with it and both sources stream.
		eventually(t, 2*time.Minute, func() bool { return streaming("menu") > menu && streaming("shop") > shop },
			func() string { return "the sources did not stream again after the reload" })
	}
}

// reloadLoad inserts orders and changes dish prices until stopped, the
// write load the views see while the configuration changes.
type reloadLoad struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	err  error
	txns int
}

func startReloadLoad(t *testing.T, fx *reloadFixture) *reloadLoad {
	t.Helper()
	menu, shop := fx.menu.Connect(), fx.shop.Connect()
	l := &reloadLoad{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		ctx := context.Background()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			_, err := shop.Exec(ctx, `INSERT INTO orders (dish_id, status) VALUES ($1, 'placed')`, i%reloadRows+1)
			if err == nil && i%5 == 0 {
				_, err = menu.Exec(ctx, `UPDATE dishes SET price_cents = price_cents + 1 WHERE id = $1`, i%reloadRows+1)
			}
			if err == nil && i%3 == 0 {
				_, err = shop.Exec(ctx, `UPDATE orders SET status = 'paid' WHERE id = $1`, i/3+1)
			}
			l.mu.Lock()
			l.err = err
			l.txns++
			l.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(l.halt)
	return l
}

func (l *reloadLoad) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// finish stops the load and fails the test if it failed or did nothing.
func (l *reloadLoad) finish(t *testing.T) {
	t.Helper()
	l.halt()
	if l.err != nil {
		t.Fatalf("write load: %v", l.err)
	}
	if l.txns < 50 {
		t.Fatalf("the write load made only %d transactions", l.txns)
	}
}

// lagBuckets is a view's projector_view_lag_seconds histogram: the
// cumulative count at each upper bound.
func lagBuckets(d *process, view string) map[float64]uint64 {
	out := map[float64]uint64{}
	f := d.metrics()["projector_view_lag_seconds"]
	if f == nil {
		return out
	}
	for _, m := range f.Metric {
		if !labelsMatch(m, map[string]string{"view": view}) || m.Histogram == nil {
			continue
		}
		for _, b := range m.Histogram.Bucket {
			out[b.GetUpperBound()] = b.GetCumulativeCount()
		}
		out[math.Inf(1)] = m.Histogram.GetSampleCount()
	}
	return out
}

// lagQuantile is the upper bound of the bucket holding quantile q of the
// documents written between the two scrapes, and how many there were.
func lagQuantile(before, after map[float64]uint64, q float64) (float64, uint64) {
	var bounds []float64
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	total := after[math.Inf(1)] - before[math.Inf(1)]
	for _, b := range bounds {
		if float64(after[b]-before[b]) >= q*float64(total) {
			return b, total
		}
	}
	return math.Inf(1), total
}

// logGap is the time between the first log line holding from and the
// first line after it holding one of to.
func logGap(t *testing.T, out, from string, to ...string) time.Duration {
	t.Helper()
	var start time.Time
	for _, line := range strings.Split(out, "\n") {
		at, ok := logTime(line)
		switch {
		case !ok:
		case start.IsZero() && strings.Contains(line, from):
			start = at
		case !start.IsZero() && slices.ContainsFunc(to, func(s string) bool { return strings.Contains(line, s) }):
			return at.Sub(start)
		}
	}
	t.Fatalf("no log line with %q followed by one with one of %q", from, to)
	return 0
}

// logTime reads the time of a text log line.
func logTime(line string) (time.Time, bool) {
	_, rest, ok := strings.Cut(line, "time=")
	if !ok {
		return time.Time{}, false
	}
	stamp, _, _ := strings.Cut(rest, " ")
	at, err := time.Parse(time.RFC3339Nano, stamp)
	return at, err == nil
}

// TestReloadWhileRunning changes the configuration of a running projector
// with SIGHUP while a write load runs: broken files are rejected with
// their position and the daemon keeps streaming; a changed view is rebuilt
// into _v2 and its alias moved while the other source's view keeps its lag
// under a second; an added view is built and ends at zero drift; a removed
// view is no longer maintained but keeps its index.
func TestReloadWhileRunning(t *testing.T) {
	fx := newReloadFixture(t)
	d := startDaemon(t, fx.path, fx.addr)
	d.waitReady(2 * time.Minute)
	dishes, orders, names := fx.search.Index("dishes"), fx.search.Index("orders"), fx.search.Index("dish_names")
	waitCount(t, fx.search, dishes, reloadRows)
	waitCount(t, fx.search, orders, reloadRows)
	good := fx.config(reloadViews("[id, name]", ""))
	for _, name := range []string{"projector_config_reloads_total", "projector_config_last_reload_success_timestamp_seconds"} {
		if _, ok := sample(d.metrics(), name, nil); !ok {
			t.Errorf("%s is not exported before the first reload", name)
		}
	}

	t.Run("rejected", func(t *testing.T) {
		broken := strings.Replace(good, "fields: [id, dish_id, status]", "fieldz: [id, dish_id, status]", 1)
		line := strings.Count(broken[:strings.Index(broken, "fieldz")], "\n") + 1
		fx.reload(t, d, broken, "rejected")
		at := regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("%s:%d:", fx.path, line)) + `\d+`)
		if !at.MatchString(d.out.String()) {
			t.Errorf("the rejected reload did not name %s:%d:col in the log", fx.path, line)
		}
		fx.reload(t, d, strings.Replace(good, fmt.Sprintf("dir: %q", fx.state), fmt.Sprintf("dir: %q", fx.state+"x"), 1), "rejected")
		if !strings.Contains(d.out.String(), "state.dir cannot change while projector runs") {
			t.Error("a changed state.dir was not rejected by name")
		}
		missing := fx.config(reloadViews("[id, name]", `
  - name: dish_names
    root: { source: menu, table: no_such_table }
    fields: [id]
`))
		fx.reload(t, d, missing, "rejected")
		if !strings.Contains(d.out.String(), "no_such_table") {
			t.Error("a view over a missing table was not rejected by name")
		}
		if n := strings.Count(d.out.String(), "configuration reload rejected"); n != 3 {
			t.Errorf("%d rejections logged, want 3 (one each)", n)
		}
		// The running configuration keeps streaming.
		fx.rewrite(t, good)
		fx.shop.Exec(`UPDATE orders SET status = 'after a rejected reload' WHERE id = 7`)
		waitDoc(t, fx.search, orders, "7", func(doc map[string]any) bool { return doc["status"] == "after a rejected reload" })
		if d.exited() {
			t.Fatal("projector exited after a rejected reload")
		}
	})

	t.Run("changed view", func(t *testing.T) {
		load := startReloadLoad(t, fx)
		time.Sleep(time.Second)
		// The same load without a reload, for comparison in the log.
		calm := lagBuckets(d, "orders")
		time.Sleep(4 * time.Second)
		before := lagBuckets(d, "orders")
		calmP99, calmN := lagQuantile(calm, before, 0.99)
		t.Logf("without a reload, view orders wrote %d documents in 4s, p99 lag ≤ %gs", calmN, calmP99)
		start := time.Now()
		fx.reload(t, d, fx.config(reloadViews("[id, name, price_cents]", "")), "ok")
		waitAlias(t, fx.search, dishes, dishes+"_v2")
		took := time.Since(start)
		time.Sleep(2 * time.Second) // documents written during the swap are counted
		p99, n := lagQuantile(before, lagBuckets(d, "orders"), 0.99)
		load.finish(t)
		t.Logf("view dishes rebuilt into _v2 in %s; view orders wrote %d documents meanwhile, p99 lag ≤ %gs", took, n, p99)
		if n < 50 {
			t.Errorf("view orders wrote only %d documents during the reload", n)
		}
		// The other source's stream stops reading while the pipeline
		// drains what it read (documents written meanwhile) and restarts;
		// the restart itself is the pause a reload adds.
		drain := logGap(t, d.out.String(), "views_changed=[dishes]", `msg="stopped cleanly"`, `msg="grace period over`)
		pause := logGap(t, d.out.String(), "views_changed=[dishes]", "msg=streaming source=shop") - drain
		t.Logf("view orders' source: in-flight documents drained in %s, then the restart paused it for %s", drain, pause)
		// The goals are a pause under 1 s and, for the written lag, 1 s
		// at the 99th percentile. They are held where the same load
		// without a reload is served well within them (p99 ≤ 0.5 s); the
		// written lag only in a release build, since under the race
		// detector the stream catches up several times slower. A test bed
		// so busy that the load alone misses them only logs them.
		switch {
		case calmN == 0 || calmP99 > 0.5:
			t.Logf("test bed saturated (p99 %gs over %d documents without a reload): pause and written lag not held to 1s",
				calmP99, calmN)
		case pause > time.Second:
			t.Errorf("restarting the pipeline stopped the other source's stream for %s, want ≤ 1s", pause)
		case raceEnabled:
			t.Logf("race detector: written lag p99 %gs not held to 1s", p99)
		case p99 > 1:
			t.Errorf("view orders' written lag p99 during the reload is above %gs, want ≤ 1s", p99)
		}
		waitDoc(t, fx.search, dishes, "7", func(doc map[string]any) bool { _, ok := doc["price_cents"]; return ok })
		verifyViews(t, fx.path, nil, "dishes", "orders")
	})

	t.Run("added view", func(t *testing.T) {
		load := startReloadLoad(t, fx)
		fx.reload(t, d, fx.config(reloadViews("[id, name, price_cents]", `
  - name: dish_names
    root: { source: menu, table: dishes }
    fields: [id, name]
    settings: { replicas: 0 }
`)), "ok")
		waitAlias(t, fx.search, names, names+"_v1")
		// The load sets the status of orders 1, 2, 3... in turn, so it may
		// pass order 8 just after this; it never changes a dish_id.
		fx.shop.Exec(`UPDATE orders SET dish_id = -8 WHERE id = 8`)
		waitDoc(t, fx.search, orders, "8", func(doc map[string]any) bool { return doc["dish_id"] == float64(-8) })
		load.finish(t)
		waitCount(t, fx.search, names, reloadRows)
		verifyViews(t, fx.path, nil, "dish_names", "dishes", "orders")
	})

	t.Run("removed view", func(t *testing.T) {
		fx.reload(t, d, fx.config(reloadViews("[id, name, price_cents]", "")), "ok")
		fx.menu.Exec(`UPDATE dishes SET name = 'renamed after removal' WHERE id = 9`)
		waitDoc(t, fx.search, dishes, "9", func(doc map[string]any) bool { return doc["name"] == "renamed after removal" })
		fx.search.Refresh()
		if _, err := fx.search.Do("HEAD", "/"+names, nil); err != nil {
			t.Fatalf("the removed view's alias %s is gone: %v", names, err)
		}
		waitDoc(t, fx.search, names, "9", func(doc map[string]any) bool { return doc["name"] == "dish 9" })
		if _, ok := sample(d.metrics(), "projector_view_available", map[string]string{"view": "dish_names"}); ok {
			t.Error("projector_view_available still reports the removed view")
		}
	})

	t.Run("added and removed source", func(t *testing.T) {
		stock := testbed.NewDatabase(t, testbed.Primary)
		stock.Exec(`CREATE TABLE items (id bigint PRIMARY KEY, qty bigint);
			INSERT INTO items SELECT g, g FROM generate_series(1, 100) g`)
		source := fmt.Sprintf("  stock: { dsn: %q, slot: %sstock }", stock.DSN(), fx.search.Prefix)
		items := fx.search.Index("items")
		withStock := fx.configWith(source, reloadViews("[id, name, price_cents]", `
  - name: items
    root: { source: stock, table: items }
    fields: [id, qty]
    settings: { replicas: 0 }
`))
		fx.reload(t, d, withStock, "ok")
		waitAlias(t, fx.search, items, items+"_v1")
		waitCount(t, fx.search, items, 100)
		stock.Exec(`UPDATE items SET qty = 1000 WHERE id = 5`)
		waitDoc(t, fx.search, items, "5", func(doc map[string]any) bool { return doc["qty"] == 1000.0 })
		verifyViews(t, fx.path, nil, "items")

		fx.reload(t, d, fx.config(reloadViews("[id, name, price_cents]", "")), "ok")
		if n := countSlots(t, stock, fx.search.Prefix+"stock"); n != 1 {
			t.Errorf("the removed source has %d slots, want its slot kept", n)
		}
		stock.Exec(`UPDATE items SET qty = 2000 WHERE id = 5`)
		fx.shop.Exec(`UPDATE orders SET status = 'after a source was removed' WHERE id = 10`)
		waitDoc(t, fx.search, orders, "10", func(doc map[string]any) bool { return doc["status"] == "after a source was removed" })
		waitDoc(t, fx.search, items, "5", func(doc map[string]any) bool { return doc["qty"] == 1000.0 })
		if strings.Contains(d.out.String(), "msg=streaming source=stock") &&
			strings.Count(d.out.String(), "msg=streaming source=stock") != 1 {
			t.Error("the removed source was streamed again after the reload")
		}
	})

	if ok, _ := sample(d.metrics(), "projector_config_last_reload_success_timestamp_seconds", nil); ok == 0 {
		t.Error("projector_config_last_reload_success_timestamp_seconds is 0 after applied reloads")
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}
}
