package e2e

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/internal/fooddelivery"
	"github.com/projector-dev/projector/internal/testbed"
)

// TestChaosSearchEngineDown makes the search engine unreachable for
// projector in the middle of the workload (every connection dropped, new
// ones refused), then reachable again.
func TestChaosSearchEngineDown(t *testing.T) {
	engine := testbed.NewSearch(t)
	u, err := url.Parse(engine.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testbed.NewProxy(t, u.Host)
	fx := newChaosFixture(t, chaosOptions{size: fooddelivery.SizeForOrders(chaosOrders), searchURL: "http://" + proxy.Addr()})
	watch := watchVersions(t, fx.search, fx.alias("order_history"))
	d := fx.start(t)
	d.waitReady(3 * time.Minute)

	// The workload goes on after the outage, so recovery can be seen.
	work := startWorkload(t, fx.dbs)
	eventually(t, time.Minute, func() bool { return work.progress() >= chaosOps/8 },
		func() string { return "the workload did not progress" })
	proxy.Cut()
	t.Logf("search engine cut off for %s", chaosOutage)
	time.Sleep(chaosOutage) // the fault itself, not an assertion
	if d.exited() {
		t.Fatalf("projector exited while the search engine was down: %v", d.err)
	}
	proxy.Restore()
	end := endOfFault(d)
	recovery(t, d, end, work, 3*time.Minute)
	if n, _ := sample(d.metrics(), "projector_bulk_retries_total", nil); n == 0 {
		t.Errorf("no bulk request was retried: the outage did not reach projector")
	}
	fx.conclude(t, d, end, work, watch)
}

// TestChaosPostgresRestart puts the deliveries database on a server of its
// own and restarts that server in fast mode in the middle of the workload:
// projector's replication connection and the application's connections
// are cut, and the server comes back with the slot where it was.
func TestChaosPostgresRestart(t *testing.T) {
	server := testbed.NewPrivateServer(t)
	fx := newChaosFixture(t, chaosOptions{size: fooddelivery.SizeForOrders(chaosOrders), deliveries: server.NewDatabase()})
	watch := watchVersions(t, fx.search, fx.alias("order_history"))
	d := fx.start(t)
	d.waitReady(3 * time.Minute)

	work := startWorkload(t, fx.dbs)
	eventually(t, time.Minute, func() bool { return work.progress() >= chaosOps/3 },
		func() string { return "the workload did not progress" })
	work.tolerate(true)
	started := time.Now()
	server.Restart()
	end := endOfFault(d)
	t.Logf("deliveries server restarted in fast mode in %s", end.at.Sub(started).Round(10*time.Millisecond))
	recovery(t, d, end, work, 3*time.Minute)
	work.tolerate(false)
	fx.conclude(t, d, end, work, watch)
}

// TestChaosWalsenderTerminated has the servers terminate the walsenders
// of projector's slots, as an administrator or a failover tool would,
// several times during the workload.
func TestChaosWalsenderTerminated(t *testing.T) {
	fx := newChaosFixture(t, chaosOptions{size: fooddelivery.SizeForOrders(chaosOrders)})
	servers := []string{fx.orders.AdminDSN(), testbed.NewDatabase(t, testbed.Secondary).AdminDSN()}
	watch := watchVersions(t, fx.search, fx.alias("order_history"))
	d := fx.start(t)
	d.waitReady(3 * time.Minute)

	work := startWorkload(t, fx.dbs)
	var end faultEnd
	for i := 1; i <= 3; i++ {
		target := chaosOps * i / 5
		eventually(t, 4*time.Minute, func() bool { return work.progress() >= target },
			func() string { return "the workload did not progress" })
		// Every walsender is back from the previous round.
		eventually(t, time.Minute, func() bool { return activeSlots(t, servers, fx.search.Prefix) == 4 },
			func() string { return "projector did not reconnect all four slots" })
		n := terminateWalsenders(t, servers, fx.search.Prefix)
		end = endOfFault(d)
		t.Logf("terminated %d walsenders", n)
		if n != 4 {
			t.Errorf("terminated %d walsenders, want one per source (4)", n)
		}
		recovery(t, d, end, work, 3*time.Minute)
	}
	fx.conclude(t, d, end, work, watch)
}

// activeSlots counts the slots whose name starts with prefix that have a
// walsender on either shared server.
func activeSlots(t *testing.T, servers []string, prefix string) int {
	t.Helper()
	return onServers(t, servers, `SELECT count(*) FROM pg_replication_slots
		WHERE starts_with(slot_name, $1) AND active_pid IS NOT NULL`, prefix)
}

// terminateWalsenders ends the walsender of every active slot whose name
// starts with prefix on both shared servers and returns how many it ended.
func terminateWalsenders(t *testing.T, servers []string, prefix string) int {
	t.Helper()
	return onServers(t, servers, `SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots
		WHERE starts_with(slot_name, $1) AND active_pid IS NOT NULL`, prefix)
}

// onServers runs a query returning one count on the servers of the admin
// DSNs and returns the sum.
func onServers(t *testing.T, servers []string, query string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	total := 0
	for _, admin := range servers {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Fatalf("connect to the server: %v", err)
		}
		var n int
		err = conn.QueryRow(ctx, query, args...).Scan(&n)
		conn.Close(ctx)
		if err != nil {
			t.Fatalf("query the server: %v", err)
		}
		total += n
	}
	return total
}
