package fooddelivery

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Service names one of the four service databases.
type Service string

// The service databases, in the order they are set up and loaded.
const (
	Orders      Service = "orders"
	Consumers   Service = "consumers"
	Restaurants Service = "restaurants"
	Deliveries  Service = "deliveries"
)

// Services lists every service database.
func Services() []Service { return []Service{Orders, Consumers, Restaurants, Deliveries} }

// Order statuses, in the order an order normally moves through them;
// cancelled can follow any status before delivering.
const (
	StatusPlaced     = "placed"
	StatusAccepted   = "accepted"
	StatusPreparing  = "preparing"
	StatusDelivering = "delivering"
	StatusDelivered  = "delivered"
	StatusCancelled  = "cancelled"
)

// Delivery statuses, in order.
const (
	DeliveryAssigned  = "assigned"
	DeliveryPickedUp  = "picked_up"
	DeliveryDelivered = "delivered"
)

// The tables carry no foreign keys, not even inside one database: services
// delete rows that others still point at, and the views must then show null.
// Every column a view joins on is indexed.
const (
	ordersSchema = `
CREATE TABLE IF NOT EXISTS orders (
	id            bigserial PRIMARY KEY,
	consumer_id   bigint,
	restaurant_id bigint,
	status        text NOT NULL DEFAULT 'placed' CHECK (status IN
	              ('placed', 'accepted', 'preparing', 'delivering', 'delivered', 'cancelled')),
	total_cents   bigint NOT NULL DEFAULT 0,
	created_at    timestamptz NOT NULL DEFAULT now(),
	notes         text
);
CREATE INDEX IF NOT EXISTS orders_consumer_id_idx ON orders (consumer_id);
CREATE INDEX IF NOT EXISTS orders_restaurant_id_idx ON orders (restaurant_id);
CREATE TABLE IF NOT EXISTS order_line_items (
	id           bigserial PRIMARY KEY,
	order_id     bigint,
	menu_item_id bigint,
	quantity     int NOT NULL DEFAULT 1,
	price_cents  bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS order_line_items_order_id_idx ON order_line_items (order_id);
CREATE INDEX IF NOT EXISTS order_line_items_menu_item_id_idx ON order_line_items (menu_item_id);
`
	consumersSchema = `
CREATE TABLE IF NOT EXISTS consumers (
	id         bigserial PRIMARY KEY,
	name       text,
	email      text,
	created_at timestamptz DEFAULT now()
);
`
	restaurantsSchema = `
CREATE TABLE IF NOT EXISTS restaurants (
	id      bigserial PRIMARY KEY,
	name    text,
	cuisine text,
	city    text
);
CREATE TABLE IF NOT EXISTS menu_items (
	id            bigserial PRIMARY KEY,
	restaurant_id bigint,
	name          text,
	description   text,
	price_cents   bigint
);
CREATE INDEX IF NOT EXISTS menu_items_restaurant_id_idx ON menu_items (restaurant_id);
`
	deliveriesSchema = `
CREATE TABLE IF NOT EXISTS deliveries (
	id           bigserial PRIMARY KEY,
	order_id     bigint UNIQUE,
	status       text,
	courier_name text,
	delivered_at timestamptz
);
`
)

// Schema returns the DDL of a service database. Every statement is
// idempotent, so it can run against a database that already has the tables.
func Schema(s Service) string {
	switch s {
	case Orders:
		return ordersSchema
	case Consumers:
		return consumersSchema
	case Restaurants:
		return restaurantsSchema
	case Deliveries:
		return deliveriesSchema
	}
	return ""
}

// Setup creates the tables and indexes of every service database that do not
// exist yet.
func Setup(ctx context.Context, dbs *DBs) error {
	for _, s := range Services() {
		if _, err := dbs.Pool(s).Exec(ctx, Schema(s)); err != nil {
			return fmt.Errorf("create %s schema: %w", s, err)
		}
	}
	return nil
}

// Pool returns the connection pool of a service database.
func (d *DBs) Pool(s Service) *pgxpool.Pool {
	switch s {
	case Orders:
		return d.Orders
	case Consumers:
		return d.Consumers
	case Restaurants:
		return d.Restaurants
	case Deliveries:
		return d.Deliveries
	}
	return nil
}
