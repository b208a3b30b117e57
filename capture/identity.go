package capture

import (
	"context"
	"fmt"

	"github.com/projector-dev/projector/capture/pgoutput"
)

// KeyResolver tells the primary key of a table; see pgoutput.KeyResolver.
// CatalogTypes is one, so the decoder gives the changes of a REPLICA
// IDENTITY FULL table the key their documents are identified by.
type KeyResolver = pgoutput.KeyResolver

// PrimaryKey lists t's primary key columns in key order; none when t has
// no primary key.
func (c *CatalogTypes) PrimaryKey(ctx context.Context, t pgoutput.Table) ([]string, error) {
	var key []string
	err := c.q.QueryRow(ctx, `
		SELECT coalesce(array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum)), '{}')
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
		WHERE n.nspname = $1 AND c.relname = $2`, t.Schema, t.Name).Scan(&key)
	if err != nil {
		return nil, fmt.Errorf("query primary key: %w", err)
	}
	if len(key) == 0 {
		return nil, nil
	}
	return key, nil
}
