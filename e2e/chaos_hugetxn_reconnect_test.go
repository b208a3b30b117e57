package e2e

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestChaosHugeTransactionReconnect cuts projector's replication connection
// from the server's side (pg_terminate_backend; the process keeps running)
// while a huge UPDATE is on its way downstream in pages: some pages are
// handed to the engine, the last is not. projector reconnects on its own,
// the server sends the whole transaction again, and all of it is applied:
// a position moved by an earlier page would make the resend look delivered
// and drop its remaining pages. The index ends equal to the table (verify,
// and every row's update is there), the reconnect is logged and counted,
// and no document the watch samples ever shows an older revision.
//
// The cut lands between pages by construction: the search engine is
// unreachable (behind a proxy that refuses connections) from the update's
// commit until projector reconnected, so the pipeline fills its memory
// budget and capture waits inside the transaction, its heartbeat going on,
// until the heartbeat finds the connection gone. Rows carry a padding
// column so that the budget holds a fraction of the transaction: narrow
// documents are so small that the sink's share holds hundreds of
// thousands.
func TestChaosHugeTransactionReconnect(t *testing.T) {
	fx := newHugeFixture(t, reconnectHugeRows)
	// A constant default is stored once in the catalog: the update writes
	// it into every row, and every change and document carries it.
	fx.db.Exec(fmt.Sprintf(`ALTER TABLE narrow ADD COLUMN pad text NOT NULL DEFAULT repeat('p', %d)`, reconnectPadBytes))
	search, err := url.Parse(fx.search.URL)
	if err != nil {
		t.Fatalf("search engine URL %q: %v", fx.search.URL, err)
	}
	proxy := testbed.NewProxy(t, search.Host)
	fx.sinkVia(t, "http://"+proxy.Addr())

	started := time.Now()
	d := startDaemon(t, fx.cfg, fx.addr)
	d.waitReady(10 * time.Minute)
	fx.waitCount(t, fx.rows)
	t.Logf("%d rows indexed %s after the start", fx.rows, time.Since(started).Round(100*time.Millisecond))
	watch := watchVersions(t, fx.search, fx.alias)
	source := map[string]string{"source": "app"}
	pushed := func() float64 { // the update's changes capture handed towards the engine
		v, _ := sample(d.metrics(), "projector_changes_total", map[string]string{"source": "app", "op": "update"})
		return v
	}
	reconnects := func() float64 { return d.gauge("projector_errors_total", map[string]string{"stage": "capture"}) }
	if n := reconnects(); n != 0 {
		t.Fatalf("projector_errors_total{stage=\"capture\"} = %v before the cut, want 0", n)
	}

	proxy.Cut()
	updated := time.Now()
	fx.db.Exec(`UPDATE narrow SET v = v + 1`)
	var before float64
	eventually(t, 5*time.Minute, func() bool { before = pushed(); return before > 0 },
		func() string { return "no page of the update was ever handed downstream" })
	if before >= float64(fx.rows) {
		t.Fatalf("all %v changes of the update were handed downstream before the cut: the memory budget holds the whole transaction, make it larger", before)
	}
	fx.db.Exec(`SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`,
		fx.search.Prefix+"app")
	cut := time.Now()
	t.Logf("cut the replication connection %s after the update, with %v of its %d changes handed downstream",
		cut.Sub(updated).Round(100*time.Millisecond), before, fx.rows)
	eventually(t, 5*time.Minute, func() bool {
		return reconnects() > 0 && d.gauge("projector_source_connected", source) == 1
	}, func() string { return "projector never reconnected after its replication connection was cut" })
	// Changes counted so far are the first delivery's and what of the
	// resend fit since: fewer than the update's means the cut found the
	// first delivery short of its last page, the case under test.
	at := pushed()
	if at >= float64(fx.rows) {
		t.Fatalf("%v changes handed downstream when projector reconnected, want fewer than the update's %d: the cut did not land between pages", at, fx.rows)
	}
	if !strings.Contains(d.out.String(), "replication interrupted; reconnecting") {
		t.Errorf("projector did not log the reconnect")
	}
	t.Logf("reconnected %s after the cut, with %v changes handed downstream", time.Since(cut).Round(100*time.Millisecond), at)
	proxy.Restore()
	restored := time.Now()

	fx.fence(t, fx.rows+1)
	t.Logf("the update and a row after it applied %s after the search engine came back", time.Since(restored).Round(100*time.Millisecond))
	// The fence's document can be acknowledged before some of the update's,
	// whose bulk requests were still backing off: once nothing waits in the
	// sink, every document built before the fence's is in the index.
	eventually(t, 5*time.Minute, func() bool { return d.gauge("projector_sink_buffered_bytes", nil) == 0 },
		func() string { return "the sink never wrote out every document it accepted" })
	if got := countMatching(t, fx.search, fx.alias, `{"query":{"term":{"v":1}}}`); got != fx.rows {
		t.Errorf("%d documents show the update, want all %d", got, fx.rows)
	}
	verifyViews(t, fx.cfg, nil, "narrow")
	fx.waitCount(t, fx.rows+1)
	watch.finish(t)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector did not stop cleanly: %v", err)
	}
}

// sinkVia points the fixture's configuration at the search engine through
// url, a proxy to it.
func (fx *hugeFixture) sinkVia(t *testing.T, url string) {
	t.Helper()
	b, err := os.ReadFile(fx.cfg)
	if err != nil {
		t.Fatalf("read the configuration: %v", err)
	}
	cfg := strings.Replace(string(b), fmt.Sprintf("urls: [%q]", fx.search.URL), fmt.Sprintf("urls: [%q]", url), 1)
	if cfg == string(b) {
		t.Fatalf("no sink URL %s in the configuration", fx.search.URL)
	}
	if err := os.WriteFile(fx.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatalf("write the configuration: %v", err)
	}
}
