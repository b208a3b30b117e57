package pgoutput

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// FuzzValue decodes arbitrary bytes as a value of each type the value
// tests cover, in either wire format: the result is a value or an error,
// never a panic, and decoding the same bytes twice gives the same answer.
func FuzzValue(f *testing.F) {
	for i, tc := range textValueCases {
		if tc.in.kind == 't' {
			f.Add(uint8(i), false, tc.in.data)
		}
	}
	f.Add(uint8(0), true, []byte{0x80, 0})
	f.Fuzz(func(t *testing.T, which uint8, binary bool, src []byte) {
		tc := textValueCases[int(which)%len(textValueCases)]
		format := int16(pgtype.TextFormatCode)
		if binary {
			format = pgtype.BinaryFormatCode
		}
		values := NewValues[Numeric](newFakeTypes())
		v, err := values.decoderFor(context.Background(), tc.oid)
		if err != nil {
			t.Fatal(err)
		}
		first, err1 := values.decode(v, format, src)
		second, err2 := values.decode(v, format, src)
		if (err1 == nil) != (err2 == nil) || (err1 == nil && !sameValue(first, second)) {
			t.Fatalf("%s %q: decoded as %#v (%v), then as %#v (%v)", tc.name, src, first, err1, second, err2)
		}
	})
}
