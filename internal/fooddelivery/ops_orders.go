package fooddelivery

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// pick chooses a random row of a table of the given service database.
func (w *worker) pick(ctx context.Context, s Service, table, filter string) (int64, error) {
	return randomID(ctx, w.dbs.Pool(s), table, filter, w.gen.r.Float64())
}

// placeOrder reads a consumer, a restaurant and its menu from their own
// databases, as an order service would through their APIs, then writes the
// order and its line items in one transaction.
func placeOrder(ctx context.Context, w *worker) error {
	consumer, err := w.pick(ctx, Consumers, "consumers", "true")
	if err != nil {
		return err
	}
	restaurant, err := w.pick(ctx, Restaurants, "restaurants", "true")
	if err != nil {
		return err
	}
	items, err := menuOf(ctx, w, restaurant)
	if err != nil {
		return err
	}
	lines := w.chooseLines(items)
	var total int64
	for _, l := range lines {
		total += l.cents * int64(l.qty)
	}
	return inTx(ctx, w.dbs.Orders, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO orders (consumer_id, restaurant_id, status, total_cents, notes)
			VALUES ($1, $2, 'placed', $3, $4) RETURNING id`, consumer, restaurant, total, orderNote(w.gen.r)).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert order: %w", err)
		}
		for _, l := range lines {
			if _, err := tx.Exec(ctx, `INSERT INTO order_line_items (order_id, menu_item_id, quantity, price_cents)
				VALUES ($1, $2, $3, $4)`, id, l.id, l.qty, l.cents); err != nil {
				return fmt.Errorf("insert line item of order %d: %w", id, err)
			}
		}
		return nil
	})
}

type line struct {
	id, cents int64
	qty       int
}

func (w *worker) chooseLines(items []menuItem) []line {
	lines := make([]line, 1+w.gen.r.IntN(4))
	for i := range lines {
		it := items[w.gen.r.IntN(len(items))]
		lines[i] = line{it.id, it.cents, 1 + w.gen.r.IntN(3)}
	}
	return lines
}

func menuOf(ctx context.Context, w *worker, restaurant int64) ([]menuItem, error) {
	rows, err := w.dbs.Restaurants.Query(ctx,
		`SELECT id, coalesce(price_cents, 0) FROM menu_items WHERE restaurant_id = $1 LIMIT 50`, restaurant)
	if err != nil {
		return nil, fmt.Errorf("read menu of restaurant %d: %w", restaurant, err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (menuItem, error) {
		var m menuItem
		return m, r.Scan(&m.id, &m.cents)
	})
	if err != nil {
		return nil, fmt.Errorf("read menu of restaurant %d: %w", restaurant, err)
	}
	if len(items) == 0 {
		return nil, errNoRow
	}
	return items, nil
}

// nextStatus returns where an order in status goes next; u in [0, 1)
// decides between going on and being cancelled where both are possible.
// Delivered and cancelled orders go nowhere.
func nextStatus(status string, u float64) (string, bool) {
	if (status == StatusPlaced || status == StatusAccepted) && u < 0.15 {
		return StatusCancelled, true
	}
	switch status {
	case StatusPlaced:
		return StatusAccepted, true
	case StatusAccepted:
		return StatusPreparing, true
	case StatusPreparing:
		return StatusDelivering, true
	case StatusDelivering:
		return StatusDelivered, true
	}
	return "", false
}

func advanceOrder(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Orders, "orders", "status NOT IN ('delivered', 'cancelled')")
	if err != nil {
		return err
	}
	u := w.gen.r.Float64()
	return inTx(ctx, w.dbs.Orders, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1 FOR UPDATE`, id).Scan(&status); err != nil {
			return notFound(err, "lock order %d", id)
		}
		next, ok := nextStatus(status, u)
		if !ok {
			return errNoRow
		}
		_, err := tx.Exec(ctx, `UPDATE orders SET status = $2 WHERE id = $1`, id, next)
		return wrap(err, "set order %d to %s", id, next)
	})
}

func noteOrder(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Orders, "orders", "true")
	if err != nil {
		return err
	}
	_, err = w.dbs.Orders.Exec(ctx, `UPDATE orders SET notes = $2 WHERE id = $1`, id, orderNote(w.gen.r))
	return wrap(err, "update notes of order %d", id)
}

func deleteOrder(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Orders, "orders", "true")
	if err != nil {
		return err
	}
	return inTx(ctx, w.dbs.Orders, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM order_line_items WHERE order_id = $1`, id); err != nil {
			return fmt.Errorf("delete line items of order %d: %w", id, err)
		}
		_, err := tx.Exec(ctx, `DELETE FROM orders WHERE id = $1`, id)
		return wrap(err, "delete order %d", id)
	})
}
