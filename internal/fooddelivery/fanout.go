package fooddelivery

import (
	"context"
	"fmt"
)

// Fanout is a restaurant that many orders embed, made by
// [RenameRestaurantFanout].
type Fanout struct {
	RestaurantID int64
	MenuItemID   int64
	ConsumerID   int64
	OrderIDs     []int64 // each with one line item of MenuItemID
}

// RenameRestaurantFanout creates a restaurant with one menu item, a consumer
// and n orders of that consumer at that restaurant, each with one line item.
// Renaming the restaurant afterwards (see [RenameRestaurant]) must change
// exactly n documents of the example view.
func RenameRestaurantFanout(ctx context.Context, dbs *DBs, n int) (Fanout, error) {
	var f Fanout
	err := dbs.Restaurants.QueryRow(ctx, `INSERT INTO restaurants (name, cuisine, city)
		VALUES ('Trattoria Roma', 'italian', 'Milan') RETURNING id`).Scan(&f.RestaurantID)
	if err != nil {
		return f, fmt.Errorf("insert fan-out restaurant: %w", err)
	}
	err = dbs.Restaurants.QueryRow(ctx, `INSERT INTO menu_items (restaurant_id, name, description, price_cents)
		VALUES ($1, 'Margherita Pizza', 'San Marzano tomatoes, fior di latte, basil', 1150) RETURNING id`,
		f.RestaurantID).Scan(&f.MenuItemID)
	if err != nil {
		return f, fmt.Errorf("insert fan-out menu item: %w", err)
	}
	err = dbs.Consumers.QueryRow(ctx, `INSERT INTO consumers (name, email)
		VALUES ('Ada Fanout', 'ada.fanout@example.com') RETURNING id`).Scan(&f.ConsumerID)
	if err != nil {
		return f, fmt.Errorf("insert fan-out consumer: %w", err)
	}
	f.OrderIDs, err = fanoutOrders(ctx, dbs, f, n)
	return f, err
}

func fanoutOrders(ctx context.Context, dbs *DBs, f Fanout, n int) ([]int64, error) {
	ids, err := reserveIDs(ctx, dbs.Orders, "orders", n)
	if err != nil {
		return nil, err
	}
	orders := make([][]any, n)
	items := make([][]any, n)
	for i, id := range ids {
		orders[i] = []any{id, f.ConsumerID, f.RestaurantID, StatusPlaced, int64(1150)}
		items[i] = []any{id, f.MenuItemID, 1, int64(1150)}
	}
	cols := []string{"id", "consumer_id", "restaurant_id", "status", "total_cents"}
	if err := copyRows(ctx, dbs.Orders, "orders", cols, orders); err != nil {
		return nil, err
	}
	if err := withIDs(ctx, dbs.Orders, "order_line_items", items); err != nil {
		return nil, err
	}
	cols = []string{"id", "order_id", "menu_item_id", "quantity", "price_cents"}
	return ids, copyRows(ctx, dbs.Orders, "order_line_items", cols, items)
}
