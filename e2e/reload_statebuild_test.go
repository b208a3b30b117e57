package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadAddsViewFromState adds, with SIGHUP and while a write load
// runs, first a view over a table the state already holds with every
// column it reads: no row of it is copied again, the view is built from
// the state's rows, gets every document and ends at zero drift. Then a
// view that joins a held table (dishes) from one whose rows the state
// holds but not findable by the join column (sides): only sides is
// copied.
func TestReloadAddsViewFromState(t *testing.T) {
	fx := newReloadFixture(t)
	fx.menu.Exec(fmt.Sprintf(`CREATE TABLE sides (id bigint PRIMARY KEY, dish_id bigint, name text);
		INSERT INTO sides SELECT g, g %% %d + 1, 'side ' || g FROM generate_series(1, %d) g`, reloadRows, sidesRows))
	sidesView := `
  - name: sides
    root: { source: menu, table: sides }
    fields: [id, dish_id, name]
    settings: { replicas: 0 }
`
	fx.rewrite(t, fx.config(reloadViews("[id, name]", sidesView)))
	d := startDaemon(t, fx.path, fx.addr)
	d.waitReady(2 * time.Minute)
	dishes, orders, sides := fx.search.Index("dishes"), fx.search.Index("orders"), fx.search.Index("sides")
	waitCount(t, fx.search, dishes, reloadRows)
	waitCount(t, fx.search, orders, reloadRows)
	waitCount(t, fx.search, sides, sidesRows)
	copiedRows := func(source, table string) float64 {
		n, _ := sample(d.metrics(), "projector_snapshot_rows_total", map[string]string{"source": source, "table": table})
		return n
	}
	orderRows, dishRows, sideRows := copiedRows("shop", "public.orders"), copiedRows("menu", "public.dishes"), copiedRows("menu", "public.sides")
	if orderRows != reloadRows || dishRows != reloadRows || sideRows != sidesRows {
		t.Fatalf("the initial snapshots copied %g orders, %g dishes, %g sides; want %d, %d, %d",
			orderRows, dishRows, sideRows, reloadRows, reloadRows, sidesRows)
	}
	ordersIndex := aliasTarget(t, fx.search, orders)

	// A view over orders, whose id and status the state holds.
	load := startReloadLoad(t, fx)
	time.Sleep(time.Second)
	statusView := `
  - name: order_status
    root: { source: shop, table: orders }
    fields: [id, status]
    settings: { replicas: 0 }
`
	fx.reload(t, d, fx.config(reloadViews("[id, name]", sidesView+statusView)), "ok")
	status := fx.search.Index("order_status")
	waitAlias(t, fx.search, status, status+"_v1")
	fx.shop.Exec(`UPDATE orders SET status = 'built from the state' WHERE id = 7`)
	waitDoc(t, fx.search, status, "7", func(doc map[string]any) bool { return doc["status"] == "built from the state" })
	load.finish(t)
	var total int
	conn := fx.shop.Connect()
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	waitCount(t, fx.search, status, total)
	if n := copiedRows("shop", "public.orders") - orderRows; n != 0 {
		t.Errorf("adding a view over orders, which the state holds, copied %g of its rows again; want none", n)
	}
	if got := aliasTarget(t, fx.search, orders); got != ordersIndex {
		t.Errorf("adding a view moved the other view's alias %s from %s to %s", orders, ordersIndex, got)
	}
	if !strings.Contains(d.out.String(), "building the view's documents from the rows the state holds") {
		t.Error("the daemon did not log a build from the state")
	}
	verifyViews(t, fx.path, nil, "order_status", "orders", "dishes", "sides")

	// A view of sides with their dish: dishes is held, sides lacks the
	// index by dish_id and is copied, root last.
	dishView := `
  - name: side_dishes
    root: { source: menu, table: sides }
    fields: [id, name]
    settings: { replicas: 0 }
    relations:
      - name: dish
        type: belongs_to
        source: menu
        table: dishes
        on: { dish_id: id }
        fields: [name]
`
	fx.reload(t, d, fx.config(reloadViews("[id, name]", sidesView+statusView+dishView)), "ok")
	sideDishes := fx.search.Index("side_dishes")
	waitAlias(t, fx.search, sideDishes, sideDishes+"_v1")
	waitCount(t, fx.search, sideDishes, sidesRows)
	if n := copiedRows("menu", "public.dishes") - dishRows; n != 0 {
		t.Errorf("adding a view joining dishes, which the state holds, copied %g of its rows again; want none", n)
	}
	if n := copiedRows("menu", "public.sides") - sideRows; n < sidesRows || n > 1.5*sidesRows {
		t.Errorf("adding a view over sides, which the state holds without its join index, copied %g of its rows; want about %d", n, sidesRows)
	}
	verifyViews(t, fx.path, nil, "side_dishes", "order_status", "orders", "dishes", "sides")
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}
}
