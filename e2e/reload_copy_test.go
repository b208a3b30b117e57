package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// sidesRows is how many rows the table only the added view reads holds.
const sidesRows = 2000

// TestReloadAddsViewFromCopies adds, with SIGHUP, a view over a table of
// a running source that no view read before, while a write load runs on
// the source's other view: the new view is built from a chunked copy of
// its one table, the other view stays on its index version and keeps
// streaming, and the new view ends at zero drift.
func TestReloadAddsViewFromCopies(t *testing.T) {
	fx := newReloadFixture(t)
	fx.menu.Exec(fmt.Sprintf(`CREATE TABLE sides (id bigint PRIMARY KEY, dish_id bigint, name text);
		INSERT INTO sides SELECT g, g %% %d + 1, 'side ' || g FROM generate_series(1, %d) g`, reloadRows, sidesRows))
	d := startDaemon(t, fx.path, fx.addr)
	d.waitReady(2 * time.Minute)
	dishes, orders, sides := fx.search.Index("dishes"), fx.search.Index("orders"), fx.search.Index("sides")
	waitCount(t, fx.search, dishes, reloadRows)
	waitCount(t, fx.search, orders, reloadRows)
	dishesIndex := aliasTarget(t, fx.search, dishes)
	copiedRows := func(table string) float64 {
		n, _ := sample(d.metrics(), "projector_snapshot_rows_total", map[string]string{"source": "menu", "table": table})
		return n
	}
	dishRows, sideRows := copiedRows("public.dishes"), copiedRows("public.sides")
	if dishRows != reloadRows {
		t.Fatalf("the initial snapshot copied %g rows of dishes, want %d", dishRows, reloadRows)
	}

	load := startReloadLoad(t, fx)
	time.Sleep(time.Second)
	fx.reload(t, d, fx.config(reloadViews("[id, name]", `
  - name: sides
    root: { source: menu, table: sides }
    fields: [id, dish_id, name]
    settings: { replicas: 0 }
`)), "ok")
	// Changes to the new table while it is copied reach the view too.
	fx.menu.Exec(`UPDATE sides SET name = 'changed while copied' WHERE id = 1999`)
	fx.menu.Exec(`DELETE FROM sides WHERE id = 2000`)
	waitAlias(t, fx.search, sides, sides+"_v1")
	waitCount(t, fx.search, sides, sidesRows-1)
	waitDoc(t, fx.search, sides, "1999", func(doc map[string]any) bool { return doc["name"] == "changed while copied" })
	// The other view of the source kept streaming on its own index.
	fx.menu.Exec(`UPDATE dishes SET name = 'while a view is copied' WHERE id = 11`)
	waitDoc(t, fx.search, dishes, "11", func(doc map[string]any) bool { return doc["name"] == "while a view is copied" })
	load.finish(t)

	if got := aliasTarget(t, fx.search, dishes); got != dishesIndex {
		t.Errorf("adding a view moved the other view's alias %s from %s to %s", dishes, dishesIndex, got)
	}
	version, err := strconv.Atoi(strings.TrimPrefix(dishesIndex, dishes+"_v"))
	if err != nil {
		t.Fatalf("alias %s points at %s, not a version of the view", dishes, dishesIndex)
	}
	if next := fmt.Sprintf("%s_v%d", dishes, version+1); indexExists(fx.search, next) {
		t.Errorf("adding a view created %s, the next index version of view dishes", next)
	}
	if n := copiedRows("public.dishes") - dishRows; n != 0 {
		t.Errorf("adding a view over sides copied %g rows of dishes again, want none", n)
	}
	// A chunk is copied again at most when a change without its key
	// meets it, or after a failure: about the table's size.
	if n := copiedRows("public.sides") - sideRows; n < sidesRows-1 || n > 1.5*sidesRows {
		t.Errorf("adding a view over sides copied %g of its rows, want about %d", n, sidesRows)
	}
	verifyViews(t, fx.path, nil, "sides", "dishes", "orders")
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// aliasTarget is the one index alias points at.
func aliasTarget(t *testing.T, search *testbed.Search, alias string) string {
	t.Helper()
	body, err := search.Do("GET", "/_alias/"+alias, nil)
	if err != nil {
		t.Fatalf("read alias %s: %v", alias, err)
	}
	var indices map[string]json.RawMessage
	if err := json.Unmarshal(body, &indices); err != nil {
		t.Fatalf("read alias %s: %v", alias, err)
	}
	if len(indices) != 1 {
		t.Fatalf("alias %s points at %d indices: %s", alias, len(indices), body)
	}
	for name := range indices {
		return name
	}
	return ""
}

// indexExists reports whether the search engine holds index.
func indexExists(search *testbed.Search, index string) bool {
	_, err := search.Do("HEAD", "/"+index, nil)
	return err == nil
}
