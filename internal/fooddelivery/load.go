package fooddelivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Size says how much data [Load] adds.
type Size struct {
	Consumers              int
	Restaurants            int
	MenuItemsPerRestaurant int
	Orders                 int
	MaxItemsPerOrder       int // each order gets between 1 and this many line items
}

// SizeForOrders returns a proportionate data set around a number of orders:
// a consumer per five orders and a restaurant per fifty.
func SizeForOrders(orders int) Size {
	return Size{
		Consumers:              max(1, orders/5),
		Restaurants:            max(1, orders/50),
		MenuItemsPerRestaurant: 12,
		Orders:                 orders,
		MaxItemsPerOrder:       4,
	}
}

func (s Size) validate() error {
	var errs []error
	if s.Consumers < 0 || s.Restaurants < 0 || s.Orders < 0 || s.MenuItemsPerRestaurant < 0 {
		errs = append(errs, errors.New("sizes must not be negative"))
	}
	if s.Orders > 0 && (s.Consumers == 0 || s.Restaurants == 0 || s.MenuItemsPerRestaurant == 0) {
		errs = append(errs, errors.New("orders need consumers, restaurants and menu items"))
	}
	if s.Orders > 0 && s.MaxItemsPerOrder < 1 {
		errs = append(errs, errors.New("MaxItemsPerOrder must be at least 1"))
	}
	return errors.Join(errs...)
}

// Load adds a data set of the given size to the service databases, which
// [Setup] must have created. The same seed gives the same rows (apart from
// ids and timestamps). Rows are added with COPY, so ten thousand orders take
// a few seconds at most; existing rows are left alone.
func Load(ctx context.Context, dbs *DBs, size Size, seed uint64) error {
	if err := size.validate(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	g := newGenerator(seed, 0)
	consumers, err := loadConsumers(ctx, dbs, g, size.Consumers)
	if err != nil {
		return err
	}
	menus, err := loadRestaurants(ctx, dbs, g, size)
	if err != nil {
		return err
	}
	orders, err := loadOrders(ctx, dbs, g, size, consumers, menus)
	if err != nil {
		return err
	}
	return loadDeliveries(ctx, dbs, g, orders)
}

func loadConsumers(ctx context.Context, dbs *DBs, g *generator, n int) ([]int64, error) {
	ids, err := reserveIDs(ctx, dbs.Consumers, "consumers", n)
	if err != nil {
		return nil, err
	}
	rows := make([][]any, n)
	for i, id := range ids {
		c := g.consumer(id)
		rows[i] = []any{id, c.name, c.email, c.createdAt}
	}
	return ids, copyRows(ctx, dbs.Consumers, "consumers", []string{"id", "name", "email", "created_at"}, rows)
}

// menu is what an order needs to know about a restaurant.
type menu struct {
	restaurant int64
	items      []menuItem
}

type menuItem struct {
	id, cents int64
}

func loadRestaurants(ctx context.Context, dbs *DBs, g *generator, size Size) ([]menu, error) {
	ids, err := reserveIDs(ctx, dbs.Restaurants, "restaurants", size.Restaurants)
	if err != nil {
		return nil, err
	}
	itemIDs, err := reserveIDs(ctx, dbs.Restaurants, "menu_items", size.Restaurants*size.MenuItemsPerRestaurant)
	if err != nil {
		return nil, err
	}
	menus := make([]menu, len(ids))
	var restaurants, items [][]any
	for i, id := range ids {
		r := g.restaurant(size.MenuItemsPerRestaurant)
		restaurants = append(restaurants, []any{id, r.name, r.cuisine, r.city})
		menus[i].restaurant = id
		for j, m := range r.menu {
			itemID := itemIDs[i*size.MenuItemsPerRestaurant+j]
			items = append(items, []any{itemID, id, m.name, m.description, m.cents})
			menus[i].items = append(menus[i].items, menuItem{itemID, m.cents})
		}
	}
	if err := copyRows(ctx, dbs.Restaurants, "restaurants", []string{"id", "name", "cuisine", "city"}, restaurants); err != nil {
		return nil, err
	}
	cols := []string{"id", "restaurant_id", "name", "description", "price_cents"}
	return menus, copyRows(ctx, dbs.Restaurants, "menu_items", cols, items)
}

// loadedOrder is what a delivery needs to know about an order.
type loadedOrder struct {
	id        int64
	status    string
	createdAt time.Time
}

func loadOrders(ctx context.Context, dbs *DBs, g *generator, size Size, consumers []int64, menus []menu) ([]loadedOrder, error) {
	ids, err := reserveIDs(ctx, dbs.Orders, "orders", size.Orders)
	if err != nil {
		return nil, err
	}
	orders := make([]loadedOrder, len(ids))
	var orderRows, itemRows [][]any
	for i, id := range ids {
		m := menus[g.r.IntN(len(menus))]
		var total int64
		for range 1 + g.r.IntN(size.MaxItemsPerOrder) {
			item := m.items[g.r.IntN(len(m.items))]
			qty := 1 + g.r.IntN(3)
			total += item.cents * int64(qty)
			itemRows = append(itemRows, []any{id, item.id, qty, item.cents})
		}
		orders[i] = loadedOrder{id, g.orderStatus(), g.past(90 * 24 * time.Hour)}
		consumer := consumers[g.r.IntN(len(consumers))]
		orderRows = append(orderRows, []any{id, consumer, m.restaurant, orders[i].status, total, orders[i].createdAt, orderNote(g.r)})
	}
	cols := []string{"id", "consumer_id", "restaurant_id", "status", "total_cents", "created_at", "notes"}
	if err := copyRows(ctx, dbs.Orders, "orders", cols, orderRows); err != nil {
		return nil, err
	}
	if err := withIDs(ctx, dbs.Orders, "order_line_items", itemRows); err != nil {
		return nil, err
	}
	cols = []string{"id", "order_id", "menu_item_id", "quantity", "price_cents"}
	return orders, copyRows(ctx, dbs.Orders, "order_line_items", cols, itemRows)
}

func loadDeliveries(ctx context.Context, dbs *DBs, g *generator, orders []loadedOrder) error {
	var rows [][]any
	for _, o := range orders {
		status, ok := deliveryFor(o.status)
		if !ok {
			continue
		}
		var at *time.Time
		if status == DeliveryDelivered {
			t := o.createdAt.Add(time.Duration(20+g.r.IntN(50)) * time.Minute)
			at = &t
		}
		rows = append(rows, []any{o.id, status, courier(g.r), at})
	}
	if err := withIDs(ctx, dbs.Deliveries, "deliveries", rows); err != nil {
		return err
	}
	return copyRows(ctx, dbs.Deliveries, "deliveries", []string{"id", "order_id", "status", "courier_name", "delivered_at"}, rows)
}

// withIDs puts a reserved id in front of every row.
func withIDs(ctx context.Context, q querier, table string, rows [][]any) error {
	ids, err := reserveIDs(ctx, q, table, len(rows))
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i] = append([]any{ids[i]}, rows[i]...)
	}
	return nil
}

// copier is what both a pool and a transaction offer for COPY.
type copier interface {
	CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error)
}

func copyRows(ctx context.Context, q copier, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := q.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy %d rows into %s: %w", len(rows), table, err)
	}
	return nil
}
