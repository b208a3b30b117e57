package fooddelivery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/fooddelivery"
	"github.com/projector-dev/projector/internal/testbed"
)

// newDBs creates the four service databases, deliveries on the second
// server as in the example configuration, and sets them up.
func newDBs(t testing.TB) *fooddelivery.DBs {
	t.Helper()
	dsns := fooddelivery.DSNs{
		Orders:      testbed.NewDatabase(t, testbed.Primary).DSN(),
		Consumers:   testbed.NewDatabase(t, testbed.Primary).DSN(),
		Restaurants: testbed.NewDatabase(t, testbed.Primary).DSN(),
		Deliveries:  testbed.NewDatabase(t, testbed.Secondary).DSN(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbs, err := fooddelivery.Connect(ctx, dsns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dbs.Close)
	if err := fooddelivery.Setup(ctx, dbs); err != nil {
		t.Fatal(err)
	}
	return dbs
}

func count(t *testing.T, dbs *fooddelivery.DBs, s fooddelivery.Service, sql string) int {
	t.Helper()
	var n int
	if err := dbs.Pool(s).QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestSetupIsIdempotent(t *testing.T) {
	dbs := newDBs(t)
	if err := fooddelivery.Setup(context.Background(), dbs); err != nil {
		t.Fatalf("second setup: %v", err)
	}
	for _, table := range []string{"orders", "order_line_items"} {
		if n := count(t, dbs, fooddelivery.Orders, "SELECT count(*) FROM "+table); n != 0 {
			t.Errorf("%s has %d rows after setup, want 0", table, n)
		}
	}
}

func TestLoad(t *testing.T) {
	dbs := newDBs(t)
	size := fooddelivery.Size{Consumers: 50, Restaurants: 10, MenuItemsPerRestaurant: 8, Orders: 300, MaxItemsPerOrder: 3}
	if err := fooddelivery.Load(context.Background(), dbs, size, 1); err != nil {
		t.Fatal(err)
	}
	exact := []struct {
		s    fooddelivery.Service
		sql  string
		want int
	}{
		{fooddelivery.Consumers, "SELECT count(*) FROM consumers", 50},
		{fooddelivery.Restaurants, "SELECT count(*) FROM restaurants", 10},
		{fooddelivery.Restaurants, "SELECT count(*) FROM menu_items", 80},
		{fooddelivery.Orders, "SELECT count(*) FROM orders", 300},
		{fooddelivery.Orders, "SELECT count(*) FROM orders o WHERE total_cents <> " +
			"(SELECT sum(quantity * price_cents) FROM order_line_items WHERE order_id = o.id)", 0},
		{fooddelivery.Orders, "SELECT count(*) FROM (SELECT order_id FROM order_line_items " +
			"GROUP BY order_id HAVING count(*) NOT BETWEEN 1 AND 3) c", 0},
	}
	for _, c := range exact {
		if got := count(t, dbs, c.s, c.sql); got != c.want {
			t.Errorf("%s = %d, want %d", c.sql, got, c.want)
		}
	}
	items := count(t, dbs, fooddelivery.Orders, "SELECT count(*) FROM order_line_items")
	deliveries := count(t, dbs, fooddelivery.Deliveries, "SELECT count(*) FROM deliveries")
	if items < 300 || items > 900 {
		t.Errorf("%d line items for 300 orders of 1 to 3 items", items)
	}
	if deliveries < 150 || deliveries > 300 {
		t.Errorf("%d deliveries for 300 orders, most of them delivered", deliveries)
	}
}

// TestLoadIsReproducible loads twice with one seed into separate databases.
func TestLoadIsReproducible(t *testing.T) {
	size := fooddelivery.SizeForOrders(100)
	var names [2]string
	for i := range names {
		dbs := newDBs(t)
		if err := fooddelivery.Load(context.Background(), dbs, size, 42); err != nil {
			t.Fatal(err)
		}
		err := dbs.Restaurants.QueryRow(context.Background(),
			"SELECT string_agg(name, ',' ORDER BY id) FROM menu_items").Scan(&names[i])
		if err != nil {
			t.Fatal(err)
		}
	}
	if names[0] != names[1] {
		t.Errorf("menus differ between two loads with seed 42:\n%s\n%s", names[0], names[1])
	}
}

func TestWorkload(t *testing.T) {
	dbs := newDBs(t)
	if err := fooddelivery.Load(context.Background(), dbs, fooddelivery.SizeForOrders(500), 7); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	counts, err := fooddelivery.Workload{Ops: 500, Workers: 4, Seed: 7}.Run(ctx, dbs)
	if err != nil {
		t.Fatalf("workload: %v (counts %v)", err, counts)
	}
	t.Logf("changes: %v", counts)
	if counts.Total() != 500 {
		t.Errorf("made %d changes, want 500: %v", counts.Total(), counts)
	}
	if missing := counts.Missing(); len(missing) > 0 {
		t.Errorf("kinds of change that never happened: %v (counts %v)", missing, counts)
	}
	// Every change that touches a line item keeps the order's total right.
	bad := count(t, dbs, fooddelivery.Orders, "SELECT count(*) FROM orders o WHERE total_cents <> "+
		"coalesce((SELECT sum(quantity * price_cents) FROM order_line_items WHERE order_id = o.id), 0)")
	if bad != 0 {
		t.Errorf("%d orders whose total is not the sum of their line items", bad)
	}
}

func TestWorkloadStopsWhenContextEnds(t *testing.T) {
	dbs := newDBs(t)
	if err := fooddelivery.Load(context.Background(), dbs, fooddelivery.SizeForOrders(100), 3); err != nil {
		t.Fatal(err)
	}
	tally := &fooddelivery.Tally{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := fooddelivery.Workload{Rate: 200, Workers: 2, Seed: 3, Tally: tally}.Run(ctx, dbs)
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for tally.Snapshot().Total() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d changes within 30s", tally.Snapshot().Total())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("cancelled workload returned %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("workload still running 30s after its context was cancelled")
	}
}

func TestRenameRestaurantFanout(t *testing.T) {
	dbs := newDBs(t)
	ctx := context.Background()
	f, err := fooddelivery.RenameRestaurantFanout(ctx, dbs, 250)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.OrderIDs) != 250 {
		t.Fatalf("%d orders, want 250", len(f.OrderIDs))
	}
	q := fmt.Sprintf("SELECT count(*) FROM orders o JOIN order_line_items li ON li.order_id = o.id "+
		"WHERE o.restaurant_id = %d AND li.menu_item_id = %d", f.RestaurantID, f.MenuItemID)
	if n := count(t, dbs, fooddelivery.Orders, q); n != 250 {
		t.Errorf("%d orders with a line item at the restaurant, want 250", n)
	}
	if err := fooddelivery.RenameRestaurant(ctx, dbs, f.RestaurantID, "Osteria Milano"); err != nil {
		t.Fatal(err)
	}
	q = fmt.Sprintf("SELECT count(*) FROM restaurants WHERE id = %d AND name = 'Osteria Milano'", f.RestaurantID)
	if n := count(t, dbs, fooddelivery.Restaurants, q); n != 1 {
		t.Errorf("restaurant not renamed")
	}
}

// BenchmarkLoad10kOrders loads the data set that the demo loads by default
// into fresh databases.
func BenchmarkLoad10kOrders(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		dbs := newDBs(b)
		b.StartTimer()
		if err := fooddelivery.Load(context.Background(), dbs, fooddelivery.SizeForOrders(10000), 1); err != nil {
			b.Fatal(err)
		}
	}
}
