package pgoutput

import (
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgtype"
)

func (d *Decoder[N]) insert(m *pglogrepl.InsertMessageV2) error {
	rel, err := d.relation(m.RelationID, Insert)
	if err != nil {
		return err
	}
	row, unchanged, err := d.row(rel, m.Tuple, false)
	if err != nil {
		return fmt.Errorf("insert into %s: %w", rel.table, err)
	}
	return d.add(m.Xid, Change{Op: Insert, Table: rel.table, Key: rel.key, New: row, Unchanged: unchanged})
}

// update keeps the old row the server sent: the whole row under REPLICA
// IDENTITY FULL ('O'), or the key when the update changed it ('K').
func (d *Decoder[N]) update(m *pglogrepl.UpdateMessageV2) error {
	rel, err := d.relation(m.RelationID, Update)
	if err != nil {
		return err
	}
	c := Change{Op: Update, Table: rel.table, Key: rel.key}
	if m.OldTuple != nil {
		if c.Old, err = d.oldRow(rel, m.OldTupleType, m.OldTuple); err != nil {
			return fmt.Errorf("update of %s: old row: %w", rel.table, err)
		}
	}
	if c.New, c.Unchanged, err = d.row(rel, m.NewTuple, false); err != nil {
		return fmt.Errorf("update of %s: %w", rel.table, err)
	}
	return d.add(m.Xid, c)
}

func (d *Decoder[N]) delete(m *pglogrepl.DeleteMessageV2) error {
	rel, err := d.relation(m.RelationID, Delete)
	if err != nil {
		return err
	}
	old, err := d.oldRow(rel, m.OldTupleType, m.OldTuple)
	if err != nil {
		return fmt.Errorf("delete from %s: %w", rel.table, err)
	}
	return d.add(m.Xid, Change{Op: Delete, Table: rel.table, Key: rel.key, Old: old})
}

// truncate yields one change per table the statement emptied.
func (d *Decoder[N]) truncate(m *pglogrepl.TruncateMessageV2) error {
	for _, oid := range m.RelationIDs {
		rel, err := d.relation(oid, Truncate)
		if err != nil {
			return err
		}
		if err := d.add(m.Xid, Change{Op: Truncate, Table: rel.table, Key: rel.key}); err != nil {
			return err
		}
	}
	return nil
}

// oldRow decodes an old tuple. A key tuple ('K') lists every column but
// sends only the key ones, so only those are kept.
func (d *Decoder[N]) oldRow(rel *relSchema, kind uint8, tuple *pglogrepl.TupleData) (Row, error) {
	row, _, err := d.row(rel, tuple, kind == pglogrepl.UpdateMessageTupleTypeKey)
	return row, err
}

// row decodes tuple data. NULL is a nil value; an unchanged TOASTed value
// is left out of the row and named in unchanged instead, because the
// server did not send it.
func (d *Decoder[N]) row(rel *relSchema, tuple *pglogrepl.TupleData, keyOnly bool) (row Row, unchanged []string, err error) {
	if len(tuple.Columns) != len(rel.columns) {
		return nil, nil, fmt.Errorf("row has %d columns where the relation has %d", len(tuple.Columns), len(rel.columns))
	}
	size := len(rel.columns)
	if keyOnly {
		size = len(rel.key)
	}
	row = make(Row, size)
	for i, data := range tuple.Columns {
		col := &rel.columns[i]
		if keyOnly && !col.key {
			continue
		}
		switch data.DataType {
		case pglogrepl.TupleDataTypeNull:
			row[col.name] = nil
		case pglogrepl.TupleDataTypeToast:
			unchanged = append(unchanged, col.name)
		case pglogrepl.TupleDataTypeText, pglogrepl.TupleDataTypeBinary:
			v, err := d.values.decode(col.value, formatOf(data.DataType), data.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("column %q: %w", col.name, err)
			}
			row[col.name] = v
		default:
			return nil, nil, fmt.Errorf("column %q: unknown tuple data kind %q", col.name, data.DataType)
		}
	}
	return row, unchanged, nil
}

func formatOf(kind uint8) int16 {
	if kind == pglogrepl.TupleDataTypeBinary {
		return pgtype.BinaryFormatCode
	}
	return pgtype.TextFormatCode
}
