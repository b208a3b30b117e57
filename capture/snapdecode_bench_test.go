package capture

import (
	"context"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// BenchmarkSnapshotDecodeRow decodes text rows shaped like the snapshot
// benchmark's order items: into a new Row each, kept like a chunk's rows
// are; into one Row used again, which leaves out what the map itself
// costs; and as a snapshot's fetch does, into the rows of chunks of 1,000
// released once filled (Transaction.Release), emptying included.
func BenchmarkSnapshotDecodeRow(b *testing.B) {
	fields := []pgconn.FieldDescription{
		{Name: "id", DataTypeOID: pgtype.Int8OID},
		{Name: "order_id", DataTypeOID: pgtype.Int8OID},
		{Name: "sku", DataTypeOID: pgtype.TextOID},
		{Name: "quantity", DataTypeOID: pgtype.Int4OID},
		{Name: "price_cents", DataTypeOID: pgtype.Int8OID},
		{Name: "created_at", DataTypeOID: pgtype.TimestamptzOID},
	}
	raws := make([][][]byte, 1000)
	for i := range raws {
		raws[i] = [][]byte{[]byte(strconv.Itoa(100000 + i)), []byte(strconv.Itoa(30000 + i)), []byte("SKU-" + strconv.Itoa(i)),
			[]byte("3"), []byte(strconv.Itoa(2500 + i)), []byte("2026-01-01 10:00:00.123456+00")}
	}
	ctx := context.Background()
	b.Run("recycled-chunk", func(b *testing.B) {
		types := NewCatalogTypes(nil)
		r := newChunkRecycler()
		var changes []Change
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if changes == nil {
				if changes = r.get(len(fields)); changes == nil {
					changes = make([]Change, 0, len(raws))
				}
			}
			row := nextRow(changes, len(fields))
			if _, err := types.decodeTextRow(ctx, fields, raws[i%len(raws)], row); err != nil {
				b.Fatal(err)
			}
			changes = append(changes, Change{Op: Read, New: row})
			if len(changes) == cap(changes) {
				(&Transaction{Snapshot: true, Changes: changes, recycle: r}).Release()
				changes = nil
			}
			i++
		}
	})
	for _, reuse := range []bool{false, true} {
		name := "new-row"
		if reuse {
			name = "reused-row"
		}
		b.Run(name, func(b *testing.B) {
			types := NewCatalogTypes(nil)
			rows := make([]Row, len(raws)) // the rows escape, as a chunk's do
			reused := make(Row, len(fields))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				row := reused
				if !reuse {
					row = make(Row, len(fields))
				}
				if _, err := types.decodeTextRow(ctx, fields, raws[i%len(raws)], row); err != nil {
					b.Fatal(err)
				}
				rows[i%len(rows)] = row
				i++
			}
		})
	}
}
