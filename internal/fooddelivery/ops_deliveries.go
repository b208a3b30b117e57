package fooddelivery

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// createDelivery assigns a courier to an order that was just placed; the
// unique order_id makes a second delivery for the same order a no-op.
func createDelivery(ctx context.Context, w *worker) error {
	order, err := w.pick(ctx, Orders, "orders", "status IN ('placed', 'accepted')")
	if err != nil {
		return err
	}
	var id int64
	err = w.dbs.Deliveries.QueryRow(ctx, `INSERT INTO deliveries (order_id, status, courier_name)
		VALUES ($1, 'assigned', $2) ON CONFLICT (order_id) DO NOTHING RETURNING id`, order, courier(w.gen.r)).Scan(&id)
	return notFound(err, "create delivery for order %d", order)
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
