package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestReloadWhileSearchEngineDown reloads a changed view while the search
// engine refuses connections, or accepts them and never answers:
// projector must not exit, but wait for the engine as it does at start,
// and once the engine is back build the changed view and keep streaming
// the other one.
func TestReloadWhileSearchEngineDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		down func(*testbed.Proxy)
	}{
		{"refused", (*testbed.Proxy).Cut},
		{"unanswered", (*testbed.Proxy).Blackhole},
	} {
		t.Run(tc.name, func(t *testing.T) { reloadWhileSearchEngineDown(t, tc.down) })
	}
}

func reloadWhileSearchEngineDown(t *testing.T, down func(*testbed.Proxy)) {
	fx := newReloadFixture(t)
	proxy := testbed.NewProxy(t, strings.TrimPrefix(fx.search.URL, "http://"))
	through := func(cfg string) string {
		return strings.Replace(cfg, fmt.Sprintf("urls: [%q]", fx.search.URL), fmt.Sprintf("urls: [%q]", "http://"+proxy.Addr()), 1)
	}
	fx.rewrite(t, through(fx.config(reloadViews("[id, name]", ""))))
	d := startDaemon(t, fx.path, fx.addr)
	d.waitReady(2 * time.Minute)
	dishes, orders := fx.search.Index("dishes"), fx.search.Index("orders")
	waitCount(t, fx.search, dishes, reloadRows)
	waitCount(t, fx.search, orders, reloadRows)

	down(proxy)
	fx.shop.Exec(`UPDATE orders SET status = 'while the search engine was down' WHERE id = 7`)
	fx.rewrite(t, through(fx.config(reloadViews("[id, name, price_cents]", ""))))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("send SIGHUP: %v", err)
	}
	eventually(t, time.Minute, func() bool {
		n, _ := sample(d.metrics(), "projector_config_reloads_total", map[string]string{"result": "ok"})
		return n == 1
	}, func() string { return "the reload was not applied" })
	// The reload gives up creating the indices ahead after 30 s, the
	// stopped run's writes after the grace period (10 s): past both, the
	// next run must be waiting for the engine.
	deadline := time.Now().Add(50 * time.Second)
	for time.Now().Before(deadline) {
		if d.exited() {
			t.Fatalf("projector exited during a reload while the search engine was down:\n%s", tail(d.out.String(), 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
	proxy.Restore()
	waitAlias(t, fx.search, dishes, dishes+"_v2")
	waitDoc(t, fx.search, orders, "7", func(doc map[string]any) bool { return doc["status"] == "while the search engine was down" })
	fx.menu.Exec(`UPDATE dishes SET price_cents = 1 WHERE id = 12`)
	waitDoc(t, fx.search, dishes, "12", func(doc map[string]any) bool { return doc["price_cents"] == 1.0 })
	if d.exited() {
		t.Fatal("projector exited after the search engine came back")
	}
	fx.rewrite(t, fx.config(reloadViews("[id, name, price_cents]", "")))
	verifyViews(t, fx.path, nil, "dishes", "orders")
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}
}
