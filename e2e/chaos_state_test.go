package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/fooddelivery"
)

// TestChaosStateLost kills projector, deletes its state directory (a lost
// disk), deletes orders while it is down and starts it again. projector
// must rebuild the view into a new index version from fresh snapshots:
// documents of rows deleted meanwhile must not survive.
func TestChaosStateLost(t *testing.T) {
	fx := newChaosFixture(t, chaosOptions{size: fooddelivery.SizeForOrders(chaosOrders)})
	alias := fx.alias("order_history")
	watch := watchVersions(t, fx.search, alias)
	d := fx.start(t)
	d.waitReady(3 * time.Minute)
	if got := aliasIndex(t, fx, alias); got != alias+"_v1" {
		t.Fatalf("alias %s points at %q, want %s_v1", alias, got, alias)
	}

	work := startWorkload(t, fx.dbs)
	eventually(t, time.Minute, func() bool { return work.progress() >= chaosOps/4 },
		func() string { return "the workload did not progress" })
	if err := d.stop(syscall.SIGKILL, 30*time.Second); err == nil {
		t.Fatal("projector survived SIGKILL")
	}
	if err := os.RemoveAll(fx.stateDir); err != nil {
		t.Fatal(err)
	}
	deleted := deleteOrders(t, fx, 5)
	t.Logf("state directory deleted; orders %v deleted while projector was down", deleted)
	down := work.progress()
	eventually(t, time.Minute, func() bool { return work.progress() >= down+chaosOps/10 },
		func() string { return "the workload did not progress" })

	d = fx.start(t)
	end := faultEnd{at: time.Now()}
	d.waitReady(3 * time.Minute)
	t.Logf("ready %s after the restart", time.Since(end.at).Round(10*time.Millisecond))
	// Until the new version holds everything, queries keep using the old
	// one, which still has the documents of the deleted orders.
	var current string
	eventually(t, 3*time.Minute, func() bool {
		current = aliasIndex(t, fx, alias)
		return current == alias+"_v2"
	}, func() string {
		return fmt.Sprintf("after the state was lost, alias %s points at %q, not at a rebuilt %s_v2", alias, current, alias)
	})
	t.Logf("REBUILT %s: alias moved to %s %s after the restart", t.Name(), current, time.Since(end.at).Round(10*time.Millisecond))
	recovery(t, d, end, work, 3*time.Minute)
	counts := work.wait(t)
	t.Logf("workload: %v", counts)
	drained(t, d, end, work)
	watch.finish(t)
	fx.search.Refresh()
	for _, id := range deleted {
		if _, err := fx.search.Do("GET", fmt.Sprintf("/%s/_doc/%d", alias, id), nil); err == nil {
			t.Errorf("order %d was deleted while the state was gone, and its document survived", id)
		}
	}
	fx.verify(t)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}

// deleteOrders deletes n random orders with their line items and returns
// their ids.
func deleteOrders(t *testing.T, fx *chaosFixture, n int) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := fx.orders.Connect()
	rows, err := conn.Query(ctx, `WITH gone AS (
			DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY random() LIMIT $1) RETURNING id),
		items AS (DELETE FROM order_line_items WHERE order_id IN (SELECT id FROM gone))
		SELECT id FROM gone`, n)
	if err != nil {
		t.Fatalf("delete orders: %v", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil || len(ids) != n {
		t.Fatalf("delete orders: %d deleted, %v", len(ids), err)
	}
	return ids
}

// aliasIndex returns the index alias points at.
func aliasIndex(t *testing.T, fx *chaosFixture, alias string) string {
	t.Helper()
	body, err := fx.search.Do("GET", "/_alias/"+alias, nil)
	if err != nil {
		t.Fatalf("read alias %s: %v", alias, err)
	}
	var indices map[string]json.RawMessage
	if err := json.Unmarshal(body, &indices); err != nil {
		t.Fatal(err)
	}
	if len(indices) != 1 {
		t.Fatalf("alias %s points at %d indices: %s", alias, len(indices), body)
	}
	for name := range indices {
		return name
	}
	return ""
}
