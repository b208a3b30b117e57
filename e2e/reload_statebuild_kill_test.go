package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killedBuildRows are the orders added to the reload fixture so that the
// build from the state takes many pages (2,000 root keys each), and a
// SIGKILL lands inside it.
const killedBuildRows = 100_000

// TestReloadBuildFromStateSurvivesSIGKILL adds with SIGHUP a view over
// orders, which the state holds, and SIGKILLs projector once the first
// pages of the view's documents built from the state are in the index. The restart goes
// on with the build from its recorded progress, without copying orders
// again, while the source keeps changing: every document arrives and
// verify finds no drift.
func TestReloadBuildFromStateSurvivesSIGKILL(t *testing.T) {
	fx := newReloadFixture(t)
	fx.shop.Exec(fmt.Sprintf(`INSERT INTO orders (dish_id, status) SELECT g %% %d + 1, 'placed' FROM generate_series(1, %d) g`,
		reloadRows, killedBuildRows))
	total := reloadRows + killedBuildRows
	d := startDaemon(t, fx.path, fx.addr)
	d.waitReady(5 * time.Minute)
	orders, status := fx.search.Index("orders"), fx.search.Index("order_status")
	waitCount(t, fx.search, orders, total)

	statusView := `
  - name: order_status
    root: { source: shop, table: orders }
    fields: [id, status]
    settings: { replicas: 0 }
`
	fx.rewrite(t, fx.config(reloadViews("[id, name]", statusView)))
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("send SIGHUP: %v", err)
	}
	const building = "building the view's documents from the rows the state holds"
	eventually(t, 2*time.Minute, func() bool { return strings.Contains(d.out.String(), building) },
		func() string { return "the daemon did not start a build from the state:\n" + d.out.String() })
	// Killed once its first pages are in the index, in the middle of it.
	eventually(t, 2*time.Minute, func() bool {
		fx.search.Refresh()
		n, err := count(fx.search, status)
		return err == nil && n > 0
	}, func() string { return "no document of the build from the state reached the index" })
	if err := d.stop(syscall.SIGKILL, 30*time.Second); err == nil {
		t.Errorf("projector survived SIGKILL")
	}
	fx.search.Refresh()
	written, err := count(fx.search, status)
	if err != nil {
		t.Fatalf("count %s: %v", status, err)
	}
	if written == 0 || written >= total {
		t.Fatalf("the build from the state wrote all %d documents before the kill; it must be cut short for this test to show anything", written)
	}
	t.Logf("killed with %d of %d documents of %s written", written, total, status)

	// The source changes while projector is down and after it is back.
	fx.shop.Exec(`UPDATE orders SET status = 'changed while down' WHERE id % 1000 = 1`)
	d = startDaemon(t, fx.path, fx.addr)
	d.waitReady(5 * time.Minute)
	fx.shop.Exec(`UPDATE orders SET status = 'changed after the restart' WHERE id % 1000 = 2; DELETE FROM orders WHERE id % 1000 = 3`)
	var left int
	conn := fx.shop.Connect()
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	waitCount(t, fx.search, status, left)
	// The build goes on from its recorded progress (only a build from
	// the first key logs that it starts), and ends.
	if out := d.out.String(); strings.Contains(out, building) || !strings.Contains(out, "built the view's documents from the rows the state holds") {
		t.Errorf("the restart did not go on with the build from the state where it stopped:\n%s", out)
	}
	if n, _ := sample(d.metrics(), "projector_snapshot_rows_total", map[string]string{"source": "shop", "table": "public.orders"}); n != 0 {
		t.Errorf("the restart copied %g rows of orders, which the state holds; want none", n)
	}
	waitDoc(t, fx.search, status, "1001", func(doc map[string]any) bool { return doc["status"] == "changed while down" })
	waitDoc(t, fx.search, status, "1002", func(doc map[string]any) bool { return doc["status"] == "changed after the restart" })
	verifyViews(t, fx.path, nil, "order_status", "orders")
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}
}
