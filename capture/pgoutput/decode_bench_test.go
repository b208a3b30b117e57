package pgoutput

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// BenchmarkDecode decodes transactions of 100 inserts of a typical row.
// capture has the same benchmark through its own Decoder, beside a
// baseline that only parses the same bytes with pglogrepl.
const benchTxnSize = 100

func benchMessages() (begin, insert, commit []byte, setup [][]byte) {
	rel := relationMsg(0, 16460, "public", "orders",
		col{"id", pgtype.Int8OID, true}, col{"customer", pgtype.TextOID, false},
		col{"total", pgtype.NumericOID, false}, col{"placed_at", pgtype.TimestamptzOID, false},
		col{"paid", pgtype.BoolOID, false}, col{"items", pgtype.JSONBOID, false})
	begin = beginMsg(0x10, commitTime, 1)
	insert = insertMsg(0, 16460, txt("1234567"), txt("Ada Lovelace"), txt("1249.90"),
		txt("2025-03-04 05:06:07.123456+00"), txt("t"), txt(`{"sku": "A-17", "qty": 2, "price": 624.95}`))
	commit = commitMsg(0x10, 0x18, commitTime)
	return begin, insert, commit, [][]byte{begin, rel}
}

func BenchmarkDecode(b *testing.B) {
	begin, insert, commit, setup := benchMessages()
	d := newDecoder(nil)
	ctx := context.Background()
	for _, m := range setup {
		if _, err := d.Decode(ctx, 0, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(insert)))
	i := 0
	for b.Loop() {
		if _, err := d.Decode(ctx, 0, insert); err != nil {
			b.Fatal(err)
		}
		if i++; i%benchTxnSize == 0 {
			txn, err := d.Decode(ctx, 0, commit)
			if err != nil || txn == nil {
				b.Fatal(txn, err)
			}
			if _, err := d.Decode(ctx, 0, begin); err != nil {
				b.Fatal(err)
			}
		}
	}
}
