package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/daemon"
	"github.com/projector-dev/projector/internal/fooddelivery"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/internal/verify"
	"github.com/projector-dev/projector/sink"
)

// foodDelivery is the reference example on the test bed: orders and
// consumers on one server, restaurants and deliveries on the other, the
// views of config/testdata/views-example.yaml taken verbatim.
type foodDelivery struct {
	dbs      *fooddelivery.DBs
	search   *testbed.Search
	orders   *testbed.Database
	stateDir string
	cfgPath  string
	addr     string
	env      []string
}

// foodOptions place the reference example: how much data it starts
// with, which server the deliveries database lives on, and what URL
// projector reaches the search engine at.
type foodOptions struct {
	size       fooddelivery.Size
	deliveries *testbed.Database // nil: a database on the shared second server
	searchURL  string            // "": the search engine itself
	extraViews string            // YAML list items appended to the reference views
	snapshot   string            // the sources' snapshot setting, e.g. "{ mode: chunked }"; "": the default
}

func newFoodDelivery(t *testing.T, size fooddelivery.Size) *foodDelivery {
	t.Helper()
	return newFoodDeliveryWith(t, foodOptions{size: size})
}

func newFoodDeliveryWith(t *testing.T, opts foodOptions) *foodDelivery {
	t.Helper()
	orders := testbed.NewDatabase(t, testbed.Primary)
	consumers := testbed.NewDatabase(t, testbed.Primary)
	restaurants := testbed.NewDatabase(t, testbed.Secondary)
	deliveries := opts.deliveries
	if deliveries == nil {
		deliveries = testbed.NewDatabase(t, testbed.Secondary)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbs, err := fooddelivery.Connect(ctx, fooddelivery.DSNs{
		Orders: orders.DSN(), Consumers: consumers.DSN(), Restaurants: restaurants.DSN(), Deliveries: deliveries.DSN(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dbs.Close)
	if err := fooddelivery.Setup(ctx, dbs); err != nil {
		t.Fatal(err)
	}
	if opts.size.Orders > 0 {
		if err := fooddelivery.Load(ctx, dbs, opts.size, 42); err != nil {
			t.Fatal(err)
		}
	}
	example, err := os.ReadFile(filepath.Join("..", "config", "testdata", "views-example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	views := string(example[strings.Index(string(example), "\nviews:"):])
	fd := &foodDelivery{dbs: dbs, search: testbed.NewSearch(t), orders: orders, addr: freePort(t),
		stateDir: filepath.Join(t.TempDir(), "state"), env: []string{"DELIVERIES_DSN=" + deliveries.DSN()}}
	url := opts.searchURL
	if url == "" {
		url = fd.search.URL
	}
	fd.cfgPath = writeConfig(t, fmt.Sprintf(`
sources:
  orders:      { dsn: %[1]q, slot: %[6]sorders%[11]s }
  consumers:   { dsn: %[2]q, slot: %[6]sconsumers%[11]s }
  restaurants: { dsn: %[3]q, slot: %[6]srestaurants%[11]s }
  deliveries:  { dsn: "${DELIVERIES_DSN}", slot: %[6]sdeliveries%[11]s }
sink:
  urls: [%[4]q]
  index_prefix: %[5]s
  flush_interval: 100ms
state:
  dir: %[7]s
http:
  listen: %[8]s
shutdown:
  grace: 20s
%[9]s
%[10]s`, orders.DSN(), consumers.DSN(), restaurants.DSN(), url, fd.search.Prefix, fd.search.Prefix,
		fd.stateDir, fd.addr, views, opts.extraViews, snapshotSetting(opts.snapshot)))
	return fd
}

func (fd *foodDelivery) start(t *testing.T) *process {
	return startDaemon(t, fd.cfgPath, fd.addr, fd.env...)
}

// verify runs the oracle and fails the test on any drift.
func (fd *foodDelivery) verify(t *testing.T) verify.Report {
	t.Helper()
	return verifyViews(t, fd.cfgPath, fd.env, "order_history")
}

// verifyViews runs the oracle on the named views of the configuration at
// cfgPath (with env set, for the variables it uses) and fails the test on
// any drift or when it checked nothing.
func verifyViews(t *testing.T, cfgPath string, env []string, views ...string) verify.Report {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opts, err := daemon.SinkOptions(cfg.Sink)
	if err != nil {
		t.Fatal(err)
	}
	client, err := sink.Connect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	report, err := verify.Run(ctx, cfg, client, verify.Options{Views: views, Settle: time.Minute, ShowDiffs: 10},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var out strings.Builder
	report.Write(&out)
	t.Logf("verify:\n%s", out.String())
	if !report.Clean() {
		t.Errorf("views %v drifted from the source databases", views)
	}
	if len(report.Views) != len(views) {
		t.Errorf("verify reported %d views, want %d", len(report.Views), len(views))
	}
	for _, v := range report.Views {
		if v.Checked == 0 {
			t.Errorf("verify checked nothing of %s", v.View)
		}
	}
	return report
}

// runWorkload changes every table of the four databases while projector
// runs; kill, when set, is called once a third of the changes are done.
func runWorkload(t *testing.T, fd *foodDelivery, ops int, kill func()) fooddelivery.Counts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tally := &fooddelivery.Tally{}
	done := make(chan struct{})
	var counts fooddelivery.Counts
	var err error
	go func() {
		defer close(done)
		counts, err = fooddelivery.Workload{Rate: 400, Ops: ops, Workers: 4, Seed: 7, Tally: tally}.Run(ctx, fd.dbs)
	}()
	if kill != nil {
		eventually(t, 4*time.Minute, func() bool { return tally.Snapshot().Total() >= ops/3 },
			func() string { return "workload did not progress" })
		kill()
	}
	<-done
	if err != nil {
		t.Fatalf("workload: %v", err)
	}
	if missing := counts.Missing(); len(missing) > 0 {
		t.Errorf("the workload never did %v", missing)
	}
	return counts
}

// TestViewsExampleStaysEqualToTheJoin builds the reference views over two
// servers and four databases, runs a randomized workload on every table
// concurrently with projector, and has the oracle find zero drift.
func TestViewsExampleStaysEqualToTheJoin(t *testing.T) {
	fd := newFoodDelivery(t, fooddelivery.SizeForOrders(500))
	d := fd.start(t)
	d.waitReady(2 * time.Minute)
	counts := runWorkload(t, fd, 3000, nil)
	t.Logf("workload: %v", counts)
	fd.verify(t)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}

// TestViewsSurviveSIGKILL is the same with projector killed with SIGKILL
// in the middle of the workload and started again on the same state.
func TestViewsSurviveSIGKILL(t *testing.T) {
	fd := newFoodDelivery(t, fooddelivery.SizeForOrders(500))
	d := fd.start(t)
	d.waitReady(2 * time.Minute)
	runWorkload(t, fd, 3000, func() {
		if err := d.stop(syscall.SIGKILL, 30*time.Second); err == nil {
			t.Errorf("projector survived SIGKILL")
		}
		d = fd.start(t)
	})
	d.waitReady(2 * time.Minute)
	fd.verify(t)
	if !strings.Contains(d.out.String(), "streaming") {
		t.Errorf("the restarted projector never streamed")
	}
}

// TestRestaurantRenameFansOut renames a restaurant that 10,000 orders
// embed: every one of their documents must change.
func TestRestaurantRenameFansOut(t *testing.T) {
	fd := newFoodDelivery(t, fooddelivery.Size{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fan, err := fooddelivery.RenameRestaurantFanout(ctx, fd.dbs, 10000)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	d := fd.start(t)
	d.waitReady(3 * time.Minute)
	t.Logf("snapshot of 10,000 orders indexed in %s", time.Since(started).Round(time.Millisecond))
	renamed := time.Now()
	if err := fooddelivery.RenameRestaurant(ctx, fd.dbs, fan.RestaurantID, "Renamed Bistro"); err != nil {
		t.Fatal(err)
	}
	query := `{"query":{"term":{"restaurant.name.keyword":"Renamed Bistro"}}}`
	var count int
	eventually(t, 3*time.Minute, func() bool {
		fd.search.Refresh()
		count = countDocs(t, fd.search, fd.search.Index("order_history"), query)
		return count == len(fan.OrderIDs)
	}, func() string { return fmt.Sprintf("%d of %d documents show the new name", count, len(fan.OrderIDs)) })
	t.Logf("rename reached all %d documents in %s", count, time.Since(renamed).Round(time.Millisecond))
	fd.verify(t)
}

func countDocs(t *testing.T, search *testbed.Search, index, query string) int {
	t.Helper()
	body, err := search.Do("POST", "/"+index+"/_count", strings.NewReader(query))
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	var res struct {
		Count int `json:"count"`
	}
	if err := jsonUnmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	return res.Count
}

// snapshotSetting is the sources' snapshot key for setting, if any.
func snapshotSetting(setting string) string {
	if setting == "" {
		return ""
	}
	return ", snapshot: " + setting
}
