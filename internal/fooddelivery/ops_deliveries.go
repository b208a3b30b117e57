package fooddelivery

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// createDelivery assigns a courier to one of the latest orders that has no
// delivery yet, as a dispatcher would. The orders live in another database,
// so the candidates are read first; the unique order_id turns a race with
// another worker into a no-op.
func createDelivery(ctx context.Context, w *worker) error {
	rows, err := w.dbs.Orders.Query(ctx, `SELECT id FROM orders
		WHERE status IN ('placed', 'accepted', 'preparing') ORDER BY id DESC LIMIT 50`)
	if err != nil {
		return fmt.Errorf("read orders awaiting delivery: %w", err)
	}
	candidates, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("read orders awaiting delivery: %w", err)
	}
	w.gen.r.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	var id int64
	err = w.dbs.Deliveries.QueryRow(ctx, `INSERT INTO deliveries (order_id, status, courier_name)
		SELECT c, 'assigned', $2 FROM unnest($1::bigint[]) AS c
		WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.order_id = c) LIMIT 1
		ON CONFLICT (order_id) DO NOTHING RETURNING id`, candidates, courier(w.gen.r)).Scan(&id)
	return notFound(err, "create a delivery")
}

// nextDeliveryStatus returns the status after status, and whether there is
// one.
func nextDeliveryStatus(status string) (string, bool) {
	switch status {
	case DeliveryAssigned:
		return DeliveryPickedUp, true
	case DeliveryPickedUp:
		return DeliveryDelivered, true
	}
	return "", false
}

func advanceDelivery(ctx context.Context, w *worker) error {
	id, err := w.pick(ctx, Deliveries, "deliveries", "status IS DISTINCT FROM 'delivered'")
	if err != nil {
		return err
	}
	return inTx(ctx, w.dbs.Deliveries, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT coalesce(status, '') FROM deliveries WHERE id = $1 FOR UPDATE`, id).Scan(&status)
		if err != nil {
			return notFound(err, "lock delivery %d", id)
		}
		next, ok := nextDeliveryStatus(status)
		if !ok {
			return errNoRow
		}
		_, err = tx.Exec(ctx, `UPDATE deliveries SET status = $2,
			delivered_at = CASE WHEN $2 = 'delivered' THEN now() END WHERE id = $1`, id, next)
		return wrap(err, "set delivery %d to %s", id, next)
	})
}

func deleteDelivery(ctx context.Context, w *worker) error {
	return deleteRow(ctx, w, Deliveries, "deliveries")
}
