package pgoutput

import (
	"context"
	"fmt"
)

// replicaIdentityFull is how a Relation message says REPLICA IDENTITY
// FULL.
const replicaIdentityFull = 'f'

// KeyResolver tells the primary key of a table. A TypeResolver that is one
// too lets the Decoder give the changes of a REPLICA IDENTITY FULL table
// the key their documents are identified by: the server flags every column
// of such a table as part of its identity, and a key of all of them would
// change on every update, fail on a NULL and outgrow the search engine's
// id limit.
type KeyResolver interface {
	// PrimaryKey lists t's primary key columns in key order; none when t
	// has no primary key.
	PrimaryKey(ctx context.Context, t Table) ([]string, error)
}

// fullIdentityKey returns the key of a REPLICA IDENTITY FULL table whose
// Relation message flagged the columns flagged. Without a resolver to ask,
// the flags are all there is to go by.
func (d *Decoder[N]) fullIdentityKey(ctx context.Context, t Table, flagged []string) ([]string, error) {
	keys, ok := d.values.resolver.(KeyResolver)
	if !ok {
		return flagged, nil
	}
	key, err := keys.PrimaryKey(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("read the primary key of %s, a REPLICA IDENTITY FULL table: %w", t, err)
	}
	return key, nil
}
