package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/client"
	"github.com/projector-dev/projector/internal/testbed"
)

// adminFixture is a daemon with the admin API on, maintaining two views
// over two sources: orders (source shop) and dishes (source menu), so
// that one can be rebuilt or stopped while the other streams.
type adminFixture struct {
	shop, menu *testbed.Database
	search     *testbed.Search
	d          *process
	config     string
	admin      string // base URL of the admin API
	token      string
	waitToken  string
}

const (
	adminTestToken = "e2e-admin-token-0123456789"
	adminWaitToken = "e2e-wait-token-9876543210"
)

func newAdminFixture(t *testing.T, rows int) *adminFixture {
	t.Helper()
	return newAdminFixtureRefreshing(t, rows, true)
}

// newAdminFixtureRefreshing is newAdminFixture with admin.bulk_refresh
// set to bulkRefresh.
func newAdminFixtureRefreshing(t *testing.T, rows int, bulkRefresh bool) *adminFixture {
	t.Helper()
	fx := &adminFixture{shop: testbed.NewDatabase(t, testbed.Primary), menu: testbed.NewDatabase(t, testbed.Primary),
		search: testbed.NewSearch(t), token: adminTestToken, waitToken: adminWaitToken}
	fx.shop.Exec(fmt.Sprintf(`CREATE TABLE orders (id bigint PRIMARY KEY, note text);
		INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, %d) g`, rows))
	fx.menu.Exec(fmt.Sprintf(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		INSERT INTO dishes SELECT g, 'dish ' || g FROM generate_series(1, %d) g`, rows))
	dir := t.TempDir()
	tokenFile, waitFile := filepath.Join(dir, "admin.token"), filepath.Join(dir, "wait.token")
	if err := os.WriteFile(tokenFile, []byte(fx.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(waitFile, []byte(fx.waitToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, adminAddr := freePort(t), freePort(t)
	fx.admin = "http://" + adminAddr
	// A long refresh interval: a read finds its write only because the
	// wait refreshed the index.
	fx.config = writeConfig(t, fmt.Sprintf(`
sources:
  shop: { dsn: %[1]q, slot: %[4]sshop }
  menu: { dsn: %[2]q, slot: %[4]smenu }
sink: { urls: [%[3]q], index_prefix: %[4]s, flush_interval: 20ms }
state: { dir: %[5]q }
http: { listen: %[6]q }
admin: { listen: %[7]q, token_file: %[8]q, wait_token_file: %[9]q, bulk_refresh: %[10]t }
views:
  - name: orders
    root: { source: shop, table: orders }
    fields: [id, note]
    settings: { replicas: 0, refresh_interval: 30s }
  - name: dishes
    root: { source: menu, table: dishes }
    fields: [id, name]
    settings: { replicas: 0, refresh_interval: 30s }
`, fx.shop.DSN(), fx.menu.DSN(), fx.search.URL, fx.search.Prefix, filepath.Join(dir, "state"),
		addr, adminAddr, tokenFile, waitFile, bulkRefresh))
	fx.d = startDaemon(t, fx.config, addr)
	fx.d.waitReady(2 * time.Minute)
	return fx
}

// call sends a request to the admin API with token ("" for none).
func (fx *adminFixture) call(t *testing.T, method, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, fx.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// viewState returns a view's state from GET /v1/views/{view}.
func (fx *adminFixture) viewState(t *testing.T, view string) (string, string) {
	t.Helper()
	code, body := fx.call(t, "GET", "/v1/views/"+view, fx.token)
	if code != 200 {
		t.Fatalf("GET /v1/views/%s: %d %s", view, code, body)
	}
	var v struct {
		State string `json:"state"`
		Index string `json:"index"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	return v.State, v.Index
}

// searchID reports whether a search (not a get, which is real-time) on
// alias finds the document with id.
func searchID(search *testbed.Search, alias string, id int64) (bool, error) {
	body, err := search.Do("POST", "/"+alias+"/_search", strings.NewReader(fmt.Sprintf(`{"query":{"ids":{"values":["%d"]}}}`, id)))
	if err != nil {
		return false, fmt.Errorf("search %s for %d: %w", alias, id, err)
	}
	var res struct {
		Hits struct {
			Hits []json.RawMessage `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return false, fmt.Errorf("search %s: %w: %s", alias, err, body)
	}
	return len(res.Hits.Hits) == 1, nil
}

// readYourWrites writes n rows into table through conn, each after a
// random delay, waits on each through the admin API and searches for it
// at once; it returns how many searches missed their own write, and the
// waits' latencies.
func readYourWrites(t *testing.T, conn *pgx.Conn, c *client.Client, search *testbed.Search, view, source, table string, first int64, n int) (int, []time.Duration) {
	t.Helper()
	ctx := context.Background()
	missed := 0
	var waits []time.Duration
	for i := range n {
		time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
		id := first + int64(i)
		if _, err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s VALUES ($1, 'written and read back')`, table), id); err != nil {
			t.Error(err)
			return missed, waits
		}
		start := time.Now()
		lsn, err := client.CommitPosition(ctx, conn)
		if err != nil {
			t.Error(err)
			return missed, waits
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute) // the longest wait; this is about misses, not latency
		err = c.Wait(wctx, view, source, lsn)
		cancel()
		if err != nil {
			t.Errorf("write %d: wait for %s: %v", id, lsn, err)
			return missed, waits
		}
		waits = append(waits, time.Since(start))
		found, err := searchID(search, search.Index(view), id)
		if err != nil {
			t.Error(err)
			return missed, waits
		}
		if !found {
			missed++
		}
		if (i+1)%500 == 0 {
			t.Logf("%s: %d of %d writes waited on, %d missed", table, i+1, n, missed)
		}
	}
	return missed, waits
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// TestChaosReadYourWrites: an application that writes, waits on its
// commit position through /v1/wait and searches at once always finds its
// own write (rywTries writes from rywWriters connections, after random
// delays), though the index refreshes only every 30 s by itself; and the
// admin API refuses requests without its token.
func TestChaosReadYourWrites(t *testing.T) {
	t.Run("refresh requests", func(t *testing.T) { chaosReadYourWrites(t, false) })
	t.Run("bulk requests' refreshes", func(t *testing.T) { chaosReadYourWrites(t, true) })
}

// chaosReadYourWrites is TestChaosReadYourWrites with admin.bulk_refresh
// set to bulkRefresh: off (the default), every wait takes a refresh
// request; on, most ride on a bulk request's own refresh.
func chaosReadYourWrites(t *testing.T, bulkRefresh bool) {
	fx := newAdminFixtureRefreshing(t, 100, bulkRefresh)
	for _, token := range []string{"", "wrong", fx.waitToken} {
		if code, body := fx.call(t, "GET", "/v1/views", token); code != 401 {
			t.Errorf("GET /v1/views with token %q: %d %s, want 401", token, code, body)
		}
	}
	code, body := fx.call(t, "GET", "/v1/views", fx.token)
	if code != 200 || strings.Count(body, `"state":"streaming"`) != 2 {
		t.Errorf("GET /v1/views: %d %s, want both views streaming", code, body)
	}
	c := client.New(fx.admin, fx.waitToken)
	var mu sync.Mutex
	var missed int
	var waits []time.Duration
	var wg sync.WaitGroup
	for w := range rywWriters {
		conn := fx.shop.Connect()
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, d := readYourWrites(t, conn, c, fx.search, "orders", "shop", "orders", int64(1_000_000*(w+1)), rywTries/rywWriters)
			mu.Lock()
			defer mu.Unlock()
			missed += m
			waits = append(waits, d...)
		}()
	}
	wg.Wait()
	t.Logf("commit to visible through /v1/wait over %d writes: p50 %s, p99 %s, max %s", len(waits),
		percentile(waits, 0.5), percentile(waits, 0.99), percentile(waits, 1))
	if missed != 0 || len(waits) != rywTries {
		t.Errorf("%d of %d searches missed their own write after /v1/wait (%d waited on)", missed, rywTries, len(waits))
	}
	// With bulk refreshes on and two writers, the other's next write
	// usually goes out within a wait's window: those waits are made
	// searchable by that bulk request's own refresh (refresh=true), the
	// rest by a refresh request, and neither kind missed a write above.
	families := fx.d.metrics()
	counter := func(name string) float64 {
		var sum float64
		if f := families[name]; f != nil {
			for _, m := range f.Metric {
				sum += m.GetCounter().GetValue()
			}
		}
		return sum
	}
	bulk, requests := counter("projector_admin_bulk_refreshes_total"), counter("projector_admin_refreshes_total")
	t.Logf("waits made searchable by %.0f bulk requests' refreshes and %.0f refresh requests", bulk, requests)
	switch {
	case bulkRefresh && bulk == 0:
		t.Error("no wait was made searchable by a bulk request's refresh, though two writers wrote while the others waited")
	case !bulkRefresh && (bulk != 0 || requests == 0):
		t.Errorf("with admin.bulk_refresh off, %.0f bulk requests' refreshes and %.0f refresh requests; want none and some", bulk, requests)
	}
	// A quiet source: nothing else is written, the position is reached
	// all the same.
	lsn, err := client.CommitPosition(context.Background(), fx.menu.Connect())
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Wait(qctx, "dishes", "menu", lsn); err != nil {
		t.Errorf("wait on a quiet source: %v", err)
	}
	for _, bad := range []struct {
		query string
		code  int
	}{
		{"view=orders&source=shop", 400},
		{"view=orders&source=shop&lsn=nope", 400},
		{"view=nope&source=shop&lsn=0/1", 404},
		{"view=orders&source=menu&lsn=0/1", 404},
		{"view=orders&source=shop&lsn=FFFFFFFF/0&timeout=300ms", 504},
	} {
		if code, body := fx.call(t, "GET", "/v1/wait?"+bad.query, fx.waitToken); code != bad.code {
			t.Errorf("GET /v1/wait?%s: %d %s, want %d", bad.query, code, body, bad.code)
		}
	}
	out := fx.d.out.String()
	if strings.Contains(out, fx.token) || strings.Contains(out, fx.waitToken) {
		t.Error("the log shows an admin token")
	}
}

// TestAdminRebuildStopResume: a rebuild through the admin API moves the
// view's alias to _v2 with every row while writes go on, the other view
// pausing only for the pipeline's restart; a stopped view's index stays as
// it was, and resuming rebuilds it with what changed meanwhile.
func TestAdminRebuildStopResume(t *testing.T) {
	const rows = 2000
	fx := newAdminFixture(t, rows)
	c := client.New(fx.admin, fx.token)
	// A write load on both sources throughout.
	var written [2]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, db := range []*testbed.Database{fx.shop, fx.menu} {
		table := []string{"orders", "dishes"}[i]
		conn := db.Connect()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := int64(1); ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				if _, err := conn.Exec(context.Background(), fmt.Sprintf(`INSERT INTO %s VALUES ($1, 'load')`, table), 10_000_000+n); err != nil {
					t.Errorf("write load: %v", err)
					return
				}
				written[i].Store(n)
			}
		}()
	}
	finish := func() {
		close(stop)
		wg.Wait()
	}
	defer func() {
		select {
		case <-stop:
		default:
			finish()
		}
	}()

	if code, body := fx.call(t, "POST", "/v1/views/orders/rebuild", fx.waitToken); code != 401 {
		t.Errorf("rebuild with the wait token: %d %s, want 401", code, body)
	}
	// The other view's commit-to-visible time while orders rebuilds.
	start := time.Now()
	if code, body := fx.call(t, "POST", "/v1/views/orders/rebuild", fx.token); code != 202 {
		t.Fatalf("POST rebuild: %d %s", code, body)
	}
	menu := fx.menu.Connect()
	var worst time.Duration
	for time.Since(start) < 5*time.Second {
		_, waits := readYourWrites(t, menu, c, fx.search, "dishes", "menu", "dishes", 20_000_000+int64(time.Since(start)/time.Millisecond)*10, 1)
		if len(waits) == 0 {
			break
		}
		worst = max(worst, waits[0])
	}
	t.Logf("dishes, commit to visible during the rebuild of orders: worst %s", worst)
	waitAlias(t, fx.search, fx.search.Index("orders"), fx.search.Index("orders")+"_v2")
	var state, index string
	eventually(t, 30*time.Second, func() bool {
		state, index = fx.viewState(t, "orders")
		return state == "streaming" && strings.HasSuffix(index, "orders_v2")
	}, func() string {
		return fmt.Sprintf("orders after the rebuild: %s into %s, want streaming into _v2", state, index)
	})

	// projector status and projector rebuild talk to the daemon.
	if code, out := runBinary(t, nil, "status", "-c", fx.config); code != 0 || !strings.Contains(out, "orders") ||
		!strings.Contains(out, "dishes") || !strings.Contains(out, "streaming") {
		t.Errorf("projector status: exit %d:\n%s", code, out)
	}
	if code, out := runBinary(t, nil, "rebuild", "--no-wait", "--view", "nope", "-c", fx.config); code != 1 || !strings.Contains(out, "404") {
		t.Errorf("projector rebuild of an unknown view: exit %d:\n%s", code, out)
	}

	// Stop dishes: its index keeps what it has, the other view streams.
	if code, body := fx.call(t, "POST", "/v1/views/dishes/stop", fx.token); code != 202 {
		t.Fatalf("POST stop: %d %s", code, body)
	}
	eventually(t, time.Minute, func() bool { s, _ := fx.viewState(t, "dishes"); return s == "stopped" },
		func() string { return "dishes never reported stopped" })
	if code, body := fx.call(t, "POST", "/v1/views/dishes/stop", fx.token); code != 409 {
		t.Errorf("stopping a stopped view: %d %s, want 409", code, body)
	}
	if code, body := fx.call(t, "GET", "/v1/wait?view=dishes&source=menu&lsn=0/1", fx.token); code != 409 {
		t.Errorf("waiting on a stopped view: %d %s, want 409", code, body)
	}
	_, waits := readYourWrites(t, fx.shop.Connect(), c, fx.search, "orders", "shop", "orders", 30_000_000, 20)
	t.Logf("orders while dishes is stopped: p99 %s", percentile(waits, 0.99))
	fx.search.Refresh()
	before, err := count(fx.search, fx.search.Index("dishes"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the load writes dishes meanwhile
	fx.search.Refresh()
	if after, _ := count(fx.search, fx.search.Index("dishes")); after != before {
		t.Errorf("a stopped view changed: %d documents, then %d", before, after)
	}

	// Resume: dishes is rebuilt into _v2 with everything written meanwhile.
	if code, body := fx.call(t, "POST", "/v1/views/dishes/resume", fx.token); code != 202 {
		t.Fatalf("POST resume: %d %s", code, body)
	}
	waitAlias(t, fx.search, fx.search.Index("dishes"), fx.search.Index("dishes")+"_v2")
	finish()
	for i, view := range []string{"orders", "dishes"} {
		db := []*testbed.Database{fx.shop, fx.menu}[i]
		lsn, err := client.CommitPosition(context.Background(), db.Connect())
		if err != nil {
			t.Fatal(err)
		}
		// However slow the machine: this is about drift, not latency.
		for try := 0; ; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := c.Wait(ctx, view, []string{"shop", "menu"}[i], lsn)
			cancel()
			if err == nil {
				break
			}
			if !errors.Is(err, client.ErrTimeout) || try == 2 {
				t.Fatalf("wait for the end of the load in %s: %v", view, err)
			}
		}
		var want int
		conn := db.Connect()
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+view).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got, err := count(fx.search, fx.search.Index(view)); err != nil || got != want {
			t.Errorf("%s: %d documents (%v), want the table's %d rows", view, got, err, want)
		}
	}
	if written[0].Load() == 0 || written[1].Load() == 0 {
		t.Error("the write load wrote nothing")
	}
}
