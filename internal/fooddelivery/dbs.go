package fooddelivery

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DBs holds a connection pool per service database. The databases may live
// on different servers; nothing here ever joins across them.
type DBs struct {
	Orders, Consumers, Restaurants, Deliveries *pgxpool.Pool
}

// DSNs holds the connection string of each service database.
type DSNs struct {
	Orders, Consumers, Restaurants, Deliveries string
}

// DSN returns the connection string of a service database.
func (d DSNs) DSN(s Service) string {
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
	return ""
}

// Connect opens a pool to every service database and checks that each one
// answers. On error the pools already opened are closed.
func Connect(ctx context.Context, dsns DSNs) (*DBs, error) {
	dbs := &DBs{}
	targets := map[Service]**pgxpool.Pool{
		Orders: &dbs.Orders, Consumers: &dbs.Consumers,
		Restaurants: &dbs.Restaurants, Deliveries: &dbs.Deliveries,
	}
	for _, s := range Services() {
		pool, err := connect(ctx, s, dsns.DSN(s))
		if err != nil {
			dbs.Close()
			return nil, err
		}
		*targets[s] = pool
	}
	return dbs, nil
}

// connect keeps the DSN out of its errors: it may hold a password.
func connect(ctx context.Context, s Service, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse the %s database DSN: invalid connection string", s)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the %s database: %w", s, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to the %s database: %w", s, err)
	}
	return pool, nil
}

// Close closes every pool that is open.
func (d *DBs) Close() {
	for _, s := range Services() {
		if p := d.Pool(s); p != nil {
			p.Close()
		}
	}
}
