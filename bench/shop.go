package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// ShopSize is the data set of the snapshot and streaming benchmarks:
// orders, each belonging to a customer and having ItemsPerOrder items.
type ShopSize struct {
	Orders        int
	Customers     int
	ItemsPerOrder int
}

// createShop creates and fills the shop schema in db.
func createShop(ctx context.Context, db *Database, size ShopSize) error {
	err := db.Exec(ctx, `
		CREATE TABLE customers (id int8 PRIMARY KEY, name text NOT NULL, email text NOT NULL);
		CREATE TABLE orders (id int8 PRIMARY KEY, customer_id int8 NOT NULL, status text NOT NULL,
			total_cents int8 NOT NULL, created_at timestamptz NOT NULL);
		CREATE TABLE order_items (id int8 PRIMARY KEY, order_id int8 NOT NULL, sku text NOT NULL,
			quantity int NOT NULL, price_cents int8 NOT NULL);
		CREATE INDEX ON order_items (order_id)`)
	if err != nil {
		return err
	}
	return db.Exec(ctx, fmt.Sprintf(`
		INSERT INTO customers SELECT g, 'Customer ' || g, 'customer' || g || '@example.com'
			FROM generate_series(1, %[2]d) g;
		INSERT INTO orders SELECT g, 1 + g %% %[2]d, (ARRAY['placed','paid','delivered'])[1 + g %% 3],
			1000 + g %% 9000, timestamptz '2026-01-01' + g * interval '1 second'
			FROM generate_series(1, %[1]d) g;
		INSERT INTO order_items SELECT g, 1 + (g - 1) / %[3]d, 'SKU-' || g %% 5000, 1 + g %% 4, 250 + g %% 2000
			FROM generate_series(1, %[1]d * %[3]d) g;
		ANALYZE`, size.Orders, size.Customers, size.ItemsPerOrder))
}

// shopConfig is projector's configuration for the shop: one source, one
// view of orders with their customer and items.
type shopConfig struct {
	DSN, Slot, SearchURL, Prefix, StateDir, Listen string
	BulkActions, Concurrency                       int
	Pprof                                          bool   // serve /debug/pprof/
	PprofToken                                     string // bearer token for /debug/pprof/, when Pprof
}

const shopView = "orders"

func (c shopConfig) write(dir string) (string, error) {
	tokenFile := `""`
	if c.Pprof {
		tokenFile = filepath.Join(dir, c.Slot+".pprof-token")
		if err := os.WriteFile(tokenFile, []byte(c.PprofToken), 0o600); err != nil {
			return "", fmt.Errorf("write profiling token: %w", err)
		}
	}
	yaml := fmt.Sprintf(`
sources:
  shop: { dsn: %q, slot: %s, publication: %s }
sink:
  urls: [%q]
  index_prefix: %s
  bulk_actions: %d
  concurrency: %d
state:
  dir: %s
http:
  listen: %s
  pprof: %t
  pprof_token_file: %s
views:
  - name: %s
    root: { source: shop, table: orders }
    fields: [id, status, total_cents, created_at]
    relations:
      - name: customer
        type: belongs_to
        source: shop
        table: customers
        on: { customer_id: id }
        fields: [name, email]
      - name: items
        type: has_many
        source: shop
        table: order_items
        on: { id: order_id }
        fields: [sku, quantity, price_cents]
`, c.DSN, c.Slot, c.Slot, c.SearchURL, c.Prefix, c.BulkActions, c.Concurrency, c.StateDir, c.Listen, c.Pprof, tokenFile, shopView)
	path := filepath.Join(dir, c.Slot+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return "", fmt.Errorf("write projector configuration: %w", err)
	}
	return path, nil
}
