package capture

import (
	"context"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgtype"
)

// ordersMessages builds the pgoutput messages of transactions on an orders
// table of a typical row: begin, the relation, the insert of order id and
// commit (capture/pgoutput's tests build every kind of message).
func ordersMessages() (begin, rel []byte, insert func(id int) []byte, commit []byte) {
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	u32 := func(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
	u64 := func(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
	begin = u32(u64(u64([]byte{'B'}, 0x10), 0), 1)
	commit = u64(u64(u64([]byte{'C', 0}, 0x10), 0x18), 0)
	cols := []struct {
		name, value string
		oid         uint32
	}{
		{"id", "", pgtype.Int8OID},
		{"customer", "Ada Lovelace", pgtype.TextOID},
		{"total", "1249.90", pgtype.NumericOID},
		{"placed_at", "2025-03-04 05:06:07.123456+00", pgtype.TimestamptzOID},
		{"paid", "t", pgtype.BoolOID},
		{"items", `{"sku": "A-17", "qty": 2, "price": 624.95}`, pgtype.JSONBOID},
	}
	rel = u16(append(u32([]byte{'R'}, 16460), "public\x00orders\x00d"...), len(cols))
	for i, c := range cols {
		key := byte(0)
		if i == 0 {
			key = 1
		}
		rel = u32(u32(append(append(rel, key), c.name+"\x00"...), c.oid), 0xFFFFFFFF)
	}
	insert = func(id int) []byte {
		ins := u16(append(u32([]byte{'I'}, 16460), 'N'), len(cols))
		for i, c := range cols {
			if i == 0 {
				c.value = strconv.Itoa(id)
			}
			ins = append(u32(append(ins, 't'), uint32(len(c.value))), c.value...)
		}
		return ins
	}
	return begin, rel, insert, commit
}

// The benchmarks decode transactions of 100 inserts of a typical row; the
// baseline only parses the same bytes with pglogrepl, so the ratio of the
// two is what decoding into typed values costs on top of parsing.
// BenchmarkDecode goes through the Decoder that sessions use, so it
// includes what capture adds to capture/pgoutput's decoder (whose own
// benchmark has the same messages): the source and the transaction's own
// slice of changes.
const benchTxnSize = 100

func BenchmarkDecode(b *testing.B) {
	const txnSize = benchTxnSize
	begin, rel, insert, commit := ordersMessages()
	ins := insert(1234567)
	d := NewDecoder("bench", nil)
	ctx := context.Background()
	for _, m := range [][]byte{begin, rel} {
		if _, err := d.Decode(ctx, 0, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(ins)))
	i := 0
	for b.Loop() {
		if _, err := d.Decode(ctx, 0, ins); err != nil {
			b.Fatal(err)
		}
		if i++; i%txnSize == 0 {
			txn, err := d.Decode(ctx, 0, commit)
			if err != nil || txn == nil || len(txn.Changes) != txnSize {
				b.Fatal(txn, err)
			}
			if _, err := d.Decode(ctx, 0, begin); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkParseV2Baseline(b *testing.B) {
	begin, _, insert, commit := ordersMessages()
	ins := insert(1234567)
	b.ReportAllocs()
	b.SetBytes(int64(len(ins)))
	i := 0
	for b.Loop() {
		if _, err := pglogrepl.ParseV2(ins, false); err != nil {
			b.Fatal(err)
		}
		if i++; i%benchTxnSize == 0 {
			if _, err := pglogrepl.ParseV2(commit, false); err != nil {
				b.Fatal(err)
			}
			if _, err := pglogrepl.ParseV2(begin, false); err != nil {
				b.Fatal(err)
			}
		}
	}
}
