package fooddelivery

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

func insertConsumer(ctx context.Context, w *worker) error {
	name, email := person(w.gen.r, w.gen.r.Int64N(1_000_000))
	_, err := w.dbs.Consumers.Exec(ctx, `INSERT INTO consumers (name, email) VALUES ($1, $2)`, name, email)
	return wrap(err, "insert consumer")
}

// renameConsumer changes both fields the example view embeds in every order
// of the consumer.
func renameConsumer(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Consumers, "consumers", "true")
	if err != nil {
		return err
	}
	name, email := person(w.gen.r, id)
	_, err = w.dbs.Consumers.Exec(ctx, `UPDATE consumers SET name = $2, email = $3 WHERE id = $1`, id, name, email)
	return wrap(err, "rename consumer %d", id)
}

func deleteConsumer(ctx context.Context, w *worker) error {
	return deleteRow(ctx, w, Consumers, "consumers")
}

// deleteRow deletes a random row of a table that nothing else in its own
// database depends on.
func deleteRow(ctx context.Context, w *worker, s Service, table string) error {
	id, err := w.pick(ctx, s, table, "true")
	if err != nil {
		return err
	}
	_, err = w.dbs.Pool(s).Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE id = $1`, table), id)
	return wrap(err, "delete %s row %d", table, id)
}

func insertRestaurant(ctx context.Context, w *worker) error {
	r := w.gen.restaurant(3 + w.gen.r.IntN(4))
	return inTx(ctx, w.dbs.Restaurants, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO restaurants (name, cuisine, city) VALUES ($1, $2, $3) RETURNING id`,
			r.name, r.cuisine, r.city).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert restaurant: %w", err)
		}
		for _, m := range r.menu {
			if err := insertMenuItemRow(ctx, tx, id, m); err != nil {
				return err
			}
		}
		return nil
	})
}

// renameRestaurant renames a restaurant, which changes every order placed
// there in the example view.
func renameRestaurant(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Restaurants, "restaurants", "true")
	if err != nil {
		return err
	}
	var cuisineName string
	if err := w.dbs.Restaurants.QueryRow(ctx, `SELECT coalesce(cuisine, '') FROM restaurants WHERE id = $1`, id).Scan(&cuisineName); err != nil {
		return notFound(err, "read restaurant %d", id)
	}
	name := restaurantName(w.gen.r, w.gen.cuisineNamed(cuisineName))
	return RenameRestaurant(ctx, w.dbs, id, name)
}

// RenameRestaurant gives a restaurant a new name.
func RenameRestaurant(ctx context.Context, dbs *DBs, id int64, name string) error {
	_, err := dbs.Restaurants.Exec(ctx, `UPDATE restaurants SET name = $2 WHERE id = $1`, id, name)
	return wrap(err, "rename restaurant %d", id)
}

// deleteRestaurant closes a restaurant: it and its menu go in one
// transaction, while orders and line items keep pointing at them.
func deleteRestaurant(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Restaurants, "restaurants", "true")
	if err != nil {
		return err
	}
	return inTx(ctx, w.dbs.Restaurants, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM menu_items WHERE restaurant_id = $1`, id); err != nil {
			return fmt.Errorf("delete menu of restaurant %d: %w", id, err)
		}
		_, err := tx.Exec(ctx, `DELETE FROM restaurants WHERE id = $1`, id)
		return wrap(err, "delete restaurant %d", id)
	})
}

func insertMenuItem(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Restaurants, "restaurants", "true")
	if err != nil {
		return err
	}
	return insertMenuItemRow(ctx, w.dbs.Restaurants, id, w.gen.anyMenuItem())
}

func insertMenuItemRow(ctx context.Context, q execer, restaurant int64, m menuItemRow) error {
	_, err := q.Exec(ctx, `INSERT INTO menu_items (restaurant_id, name, description, price_cents)
		VALUES ($1, $2, $3, $4)`, restaurant, m.name, m.description, m.cents)
	return wrap(err, "insert menu item of restaurant %d", restaurant)
}

// renameMenuItem changes the name, which line items embed, and the price,
// which only new line items copy.
func renameMenuItem(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Restaurants, "menu_items", "true")
	if err != nil {
		return err
	}
	m := w.gen.anyMenuItem()
	_, err = w.dbs.Restaurants.Exec(ctx, `UPDATE menu_items SET name = $2, description = $3, price_cents = $4
		WHERE id = $1`, id, m.name, m.description, m.cents)
	return wrap(err, "rename menu item %d", id)
}

func deleteMenuItem(ctx context.Context, w *worker) error {
	return deleteRow(ctx, w, Restaurants, "menu_items")
}
