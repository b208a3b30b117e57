package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// hangingEngine forwards to the search engine until hang is set; from
// then on it accepts every request and never answers, as an overloaded or
// wedged engine does.
type hangingEngine struct {
	hang     atomic.Bool
	inFlight atomic.Int64 // requests held without an answer
	forward  http.Handler
	release  chan struct{}
}

func newHangingEngine(t *testing.T, target string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return httptest.NewServer(&hangingEngine{forward: httputil.NewSingleHostReverseProxy(u), release: make(chan struct{})})
}

func (h *hangingEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.hang.Load() {
		h.forward.ServeHTTP(w, r)
		return
	}
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	select {
	case <-r.Context().Done():
	case <-h.release:
	}
}

// TestShutdownWithinGraceWhenTheEngineHangs stops projector with SIGTERM
// while its bulk requests hang: it must exit within shutdown.grace plus a
// small margin, confirm nothing it did not write, and write the changes on
// the next start.
func TestShutdownWithinGraceWhenTheEngineHangs(t *testing.T) {
	const grace = 10 * time.Second
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE items (id bigint PRIMARY KEY, name text);
		INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g`)
	srv := newHangingEngine(t, search.URL)
	engine := srv.Config.Handler.(*hangingEngine)
	t.Cleanup(func() {
		close(engine.release)
		srv.Close()
	})

	slot := search.Prefix + "shop"
	state := t.TempDir()
	config := func(sinkURL, addr string) string {
		return writeConfig(t, fmt.Sprintf(`
sources:
  shop: { dsn: %q, slot: %s }
sink:
  urls: [%q]
  index_prefix: %s
  flush_interval: 50ms
state: { dir: %q }
http: { listen: %q }
shutdown: { grace: %s }
views:
  - name: items
    root: { source: shop, table: items }
    fields: [id, name]
`, db.DSN(), slot, sinkURL, search.Prefix, state, addr, grace))
	}
	addr := freePort(t)
	// A binary built with -race sleeps a second before it exits; that
	// second is the test's, not projector's.
	d := startDaemon(t, config(srv.URL, addr), addr, "GORACE=atexit_sleep_ms=0")
	d.waitReady(2 * time.Minute)

	engine.hang.Store(true)
	conn := db.Connect()
	defer conn.Close(context.Background())
	var before string
	if err := conn.QueryRow(context.Background(),
		`UPDATE items SET name = 'renamed' WHERE id = 10 RETURNING pg_current_wal_insert_lsn()::text`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() bool { return engine.inFlight.Load() > 0 },
		func() string { return "no bulk request reached the hanging engine" })

	start := time.Now()
	err := d.stop(syscall.SIGTERM, time.Minute)
	took := time.Since(start)
	t.Logf("exit %v after %s", err, took.Round(time.Millisecond))
	if took > grace+2*time.Second {
		t.Errorf("projector took %s to exit with shutdown.grace %s and a hanging search engine; want at most %s",
			took.Round(time.Millisecond), grace, grace+2*time.Second)
	}
	var confirmed string
	if err := conn.QueryRow(context.Background(),
		`SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&confirmed); err != nil {
		t.Fatal(err)
	}
	if lsnAfter(t, confirmed, before) {
		t.Errorf("slot confirmed %s, past the update committed after %s that the engine never took", confirmed, before)
	}

	// The next start writes what the hanging engine never took.
	addr = freePort(t)
	d = startDaemon(t, config(search.URL, addr), addr)
	d.waitReady(2 * time.Minute)
	waitDoc(t, search, search.Index("items"), "10", func(doc map[string]any) bool { return doc["name"] == "renamed" })
	if err := d.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}
