package pgoutput

import (
	"context"
	"fmt"
	"slices"
)

// relSchema is what a Relation message said about a table: its name and
// its columns in the order row data lists them.
type relSchema struct {
	table   Table
	columns []relColumn
	key     []string // the replica identity columns, in order; shared by every Change
}

type relColumn struct {
	name  string
	key   bool
	value *valueDecoder
}

// keyFlag marks a column of the replica identity in a Relation message.
const keyFlag = 1

// describe records a Relation message. It replaces what an earlier one
// said about the same OID, so added and dropped columns apply to the rows
// that follow. Inside a streamed transaction it holds for that transaction
// only, until it commits: other transactions keep the schema they knew.
func (d *Decoder[N]) describe(ctx context.Context, m relationMessage) error {
	rel := &relSchema{
		table:   Table{Schema: m.namespace, Name: m.name},
		columns: make([]relColumn, len(m.columns)),
	}
	for i, col := range m.columns {
		value, err := d.values.decoderFor(ctx, col.typeOID)
		if err != nil {
			return fmt.Errorf("relation %s column %q: %w", rel.table, col.name, err)
		}
		key := col.flags&keyFlag != 0
		rel.columns[i] = relColumn{name: col.name, key: key, value: value}
		if key {
			rel.key = append(rel.key, col.name)
		}
	}
	if m.replicaIdentity == replicaIdentityFull {
		key, err := d.fullIdentityKey(ctx, rel.table, rel.key)
		if err != nil {
			return fmt.Errorf("relation %s: %w", rel.table, err)
		}
		rel.key = key
	}
	rel.key = slices.Clip(rel.key)
	if d.segment != nil {
		d.segment.describe(m.id, rel)
		return nil
	}
	d.relations[m.id] = rel
	return nil
}

// relation returns the schema a change refers to by OID.
func (d *Decoder[N]) relation(oid uint32, op Op) (*relSchema, error) {
	if d.segment != nil {
		if rel, ok := d.segment.relations[oid]; ok {
			return rel, nil
		}
	}
	rel, ok := d.relations[oid]
	if !ok {
		return nil, fmt.Errorf("%s on relation OID %d, which no Relation message described", op, oid)
	}
	return rel, nil
}
