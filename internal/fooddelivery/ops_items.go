package fooddelivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Transactions that change line items lock the item first and then orders in
// ascending id order, so that concurrent workers rarely deadlock; [inTx]
// retries when they do.

func addLineItem(ctx context.Context, w *worker) error {
	order, err := w.pick(ctx, Orders, "orders", "status NOT IN ('delivered', 'cancelled')")
	if err != nil {
		return err
	}
	var restaurant int64
	if err := w.dbs.Orders.QueryRow(ctx, `SELECT coalesce(restaurant_id, 0) FROM orders WHERE id = $1`, order).Scan(&restaurant); err != nil {
		return notFound(err, "read order %d", order)
	}
	items, err := menuOf(ctx, w, restaurant)
	if errors.Is(err, errNoRow) {
		items, err = anyMenuItem(ctx, w)
	}
	if err != nil {
		return err
	}
	l := w.chooseLines(items)[0]
	return inTx(ctx, w.dbs.Orders, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO order_line_items (order_id, menu_item_id, quantity, price_cents)
			VALUES ($1, $2, $3, $4)`, order, l.id, l.qty, l.cents); err != nil {
			return fmt.Errorf("insert line item of order %d: %w", order, err)
		}
		return addToTotal(ctx, tx, order, l.cents*int64(l.qty))
	})
}

func anyMenuItem(ctx context.Context, w *worker) ([]menuItem, error) {
	id, err := w.pick(ctx, Restaurants, "menu_items", "true")
	if err != nil {
		return nil, err
	}
	m := menuItem{id: id}
	err = w.dbs.Restaurants.QueryRow(ctx, `SELECT coalesce(price_cents, 0) FROM menu_items WHERE id = $1`, id).Scan(&m.cents)
	return []menuItem{m}, notFound(err, "read menu item %d", id)
}

func addToTotal(ctx context.Context, tx pgx.Tx, order, cents int64) error {
	_, err := tx.Exec(ctx, `UPDATE orders SET total_cents = total_cents + $2 WHERE id = $1`, order, cents)
	return wrap(err, "update total of order %d", order)
}

// lockedItem is a line item read FOR UPDATE.
type lockedItem struct {
	id, order, cents int64
	qty              int
}

func lockItem(ctx context.Context, tx pgx.Tx, id int64) (lockedItem, error) {
	it := lockedItem{id: id}
	err := tx.QueryRow(ctx, `SELECT coalesce(order_id, 0), quantity, price_cents FROM order_line_items
		WHERE id = $1 FOR UPDATE`, id).Scan(&it.order, &it.qty, &it.cents)
	return it, notFound(err, "lock line item %d", id)
}

func updateLineItem(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Orders, "order_line_items", "true")
	if err != nil {
		return err
	}
	qty := 1 + w.gen.r.IntN(5)
	return inTx(ctx, w.dbs.Orders, func(tx pgx.Tx) error {
		it, err := lockItem(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE order_line_items SET quantity = $2 WHERE id = $1`, id, qty); err != nil {
			return fmt.Errorf("update line item %d: %w", id, err)
		}
		return addToTotal(ctx, tx, it.order, int64(qty-it.qty)*it.cents)
	})
}

func moveLineItem(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Orders, "order_line_items", "true")
	if err != nil {
		return err
	}
	to, err := w.pick(ctx, Orders, "orders", "true")
	if err != nil {
		return err
	}
	return inTx(ctx, w.dbs.Orders, func(tx pgx.Tx) error {
		it, err := lockItem(ctx, tx, id)
		if err != nil {
			return err
		}
		if it.order == to {
			return errNoRow
		}
		if _, err := tx.Exec(ctx, `UPDATE order_line_items SET order_id = $2 WHERE id = $1`, id, to); err != nil {
			return fmt.Errorf("move line item %d to order %d: %w", id, to, err)
		}
		cents := it.cents * int64(it.qty)
		first, second := it.order, to
		firstDelta, secondDelta := -cents, cents
		if first > second {
			first, second, firstDelta, secondDelta = second, first, secondDelta, firstDelta
		}
		if err := addToTotal(ctx, tx, first, firstDelta); err != nil {
			return err
		}
		return addToTotal(ctx, tx, second, secondDelta)
	})
}

func deleteLineItem(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Orders, "order_line_items", "true")
	if err != nil {
		return err
	}
	return inTx(ctx, w.dbs.Orders, func(tx pgx.Tx) error {
		var order, cents int64
		err := tx.QueryRow(ctx, `DELETE FROM order_line_items WHERE id = $1
			RETURNING coalesce(order_id, 0), quantity * price_cents`, id).Scan(&order, &cents)
		if err != nil {
			return notFound(err, "delete line item %d", id)
		}
		return addToTotal(ctx, tx, order, -cents)
	})
}
