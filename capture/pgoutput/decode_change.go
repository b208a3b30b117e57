package pgoutput

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// change applies an Insert ('I'), Update ('U') or Delete ('D').
func (d *Decoder[N]) change(kind byte, m rowMessage) error {
	switch kind {
	case 'I':
		return d.insert(m)
	case 'U':
		return d.update(m)
	default:
		return d.delete(m)
	}
}

func (d *Decoder[N]) insert(m rowMessage) error {
	rel, err := d.relation(m.relation, Insert)
	if err != nil {
		return err
	}
	row, unchanged, err := d.row(rel, m.new, false)
	if err != nil {
		return fmt.Errorf("insert into %s: %w", rel.table, err)
	}
	return d.add(m.xid, Change{Op: Insert, Table: rel.table, Key: rel.key, New: row, Unchanged: unchanged})
}

// update keeps the old row the server sent: the whole row under REPLICA
// IDENTITY FULL ('O'), or the key when the update changed it ('K').
func (d *Decoder[N]) update(m rowMessage) error {
	rel, err := d.relation(m.relation, Update)
	if err != nil {
		return err
	}
	c := Change{Op: Update, Table: rel.table, Key: rel.key}
	if m.oldKind != 0 {
		if c.Old, err = d.oldRow(rel, m.oldKind, m.old); err != nil {
			return fmt.Errorf("update of %s: old row: %w", rel.table, err)
		}
	}
	if c.New, c.Unchanged, err = d.row(rel, m.new, false); err != nil {
		return fmt.Errorf("update of %s: %w", rel.table, err)
	}
	return d.add(m.xid, c)
}

func (d *Decoder[N]) delete(m rowMessage) error {
	rel, err := d.relation(m.relation, Delete)
	if err != nil {
		return err
	}
	old, err := d.oldRow(rel, m.oldKind, m.old)
	if err != nil {
		return fmt.Errorf("delete from %s: %w", rel.table, err)
	}
	return d.add(m.xid, Change{Op: Delete, Table: rel.table, Key: rel.key, Old: old})
}

// truncate yields one change per table the statement emptied.
func (d *Decoder[N]) truncate(m truncateMessage) error {
	for _, oid := range m.relations {
		rel, err := d.relation(oid, Truncate)
		if err != nil {
			return err
		}
		if err := d.add(m.xid, Change{Op: Truncate, Table: rel.table, Key: rel.key}); err != nil {
			return err
		}
	}
	return nil
}

// oldRow decodes an old tuple. A key tuple ('K') lists every column but
// sends only the key ones, so only those are kept.
func (d *Decoder[N]) oldRow(rel *relSchema, kind byte, tuple []tupleColumn) (Row, error) {
	row, _, err := d.row(rel, tuple, kind == 'K')
	return row, err
}

// row decodes tuple data. NULL is a nil value; an unchanged TOASTed value
// is left out of the row and named in unchanged instead, because the
// server did not send it.
func (d *Decoder[N]) row(rel *relSchema, tuple []tupleColumn, keyOnly bool) (row Row, unchanged []string, err error) {
	if len(tuple) != len(rel.columns) {
		return nil, nil, fmt.Errorf("row has %d columns where the relation has %d", len(tuple), len(rel.columns))
	}
	size := len(rel.columns)
	if keyOnly {
		size = len(rel.key)
	}
	row = make(Row, size)
	for i, data := range tuple {
		col := &rel.columns[i]
		if keyOnly && !col.key {
			continue
		}
		switch data.kind {
		case 'n':
			row[col.name] = nil
		case 'u':
			unchanged = append(unchanged, col.name)
		default: // 't' or 'b', as the reader accepts no other kind
			v, err := d.values.decode(col.value, formatOf(data.kind), data.data)
			if err != nil {
				return nil, nil, fmt.Errorf("column %q: %w", col.name, err)
			}
			row[col.name] = v
		}
	}
	return row, unchanged, nil
}

func formatOf(kind byte) int16 {
	if kind == 'b' {
		return pgtype.BinaryFormatCode
	}
	return pgtype.TextFormatCode
}
