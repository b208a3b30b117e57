package pgoutput

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// array builds the decoder of an array type. pgx parses the array's
// structure (quoting, NULLs, dimensions, the binary header) while every
// element goes through the element type's own decoder, so an int4[] holds
// int64s and an array of a domain holds values of the domain's base type.
func (c *Values[N]) array(ctx context.Context, elemOID uint32, delimiter byte, depth int) (*valueDecoder, error) {
	elem, err := c.lookup(ctx, elemOID, depth+1)
	if err != nil {
		return nil, fmt.Errorf("array of type %d: %w", elemOID, err)
	}
	// Declaring the elements as text makes pgx hand over each element's
	// bytes as they are, in either format.
	codec := &pgtype.ArrayCodec{
		ElementType: &pgtype.Type{Name: "text", OID: pgtype.TextOID, Codec: pgtype.TextCodec{}},
		Delimiter:   delimiter,
	}
	v := &valueDecoder{kind: arrayValue, oid: pgtype.TextArrayOID, elem: elem}
	for format := range v.plans {
		v.plans[format] = codec.PlanScan(c.pg, pgtype.TextArrayOID, int16(format), &arrayValues[N]{})
	}
	return v, nil
}

func (c *Values[N]) decodeArray(v *valueDecoder, format int16, src []byte) (any, error) {
	if v.plans[format] == nil {
		return nil, fmt.Errorf("arrays cannot be read in format %d", format)
	}
	a := &arrayValues[N]{codecs: c, elem: v.elem, format: format}
	if err := v.plans[format].Scan(src, a); err != nil {
		return nil, fmt.Errorf("decode array: %w", err)
	}
	for _, d := range a.dims {
		if d.LowerBound != 1 {
			c.lossy[ArrayBounds]++
			break
		}
	}
	return nest(a.values, a.dims), nil
}

// arrayValues receives an array from pgx's parser and decodes each element
// as it arrives.
type arrayValues[N ~string] struct {
	codecs *Values[N]
	elem   *valueDecoder
	format int16
	dims   []pgtype.ArrayDimension
	values []any
	slots  []arraySlot[N]
}

// SetDimensions sizes the array; pgx has checked the element count
// against the input before calling it.
func (a *arrayValues[N]) SetDimensions(dims []pgtype.ArrayDimension) error {
	n := 0
	if len(dims) > 0 {
		n = 1
		for _, d := range dims {
			if d.Length < 0 {
				return fmt.Errorf("array dimension of length %d", d.Length)
			}
			n *= int(d.Length)
		}
	}
	a.dims = dims
	a.values = make([]any, n)
	a.slots = make([]arraySlot[N], n)
	for i := range a.slots {
		a.slots[i] = arraySlot[N]{array: a, i: i}
	}
	return nil
}

// ScanIndex returns where element i is scanned.
func (a *arrayValues[N]) ScanIndex(i int) any { return &a.slots[i] }

// ScanIndexType tells pgx what ScanIndex returns.
func (a *arrayValues[N]) ScanIndexType() any { return new(arraySlot[N]) }

// arraySlot is one element's place in an arrayValues.
type arraySlot[N ~string] struct {
	array *arrayValues[N]
	i     int
}

// ScanBytes decodes one element; nil is a NULL element.
func (s *arraySlot[N]) ScanBytes(src []byte) error {
	if src == nil {
		return nil
	}
	a := s.array
	v, err := a.codecs.decode(a.elem, a.format, src)
	if err != nil {
		return fmt.Errorf("element %d: %w", s.i+1, err)
	}
	a.values[s.i] = v
	return nil
}

// nest turns the flat, row-major elements of a multi-dimensional array
// into one []any per dimension.
func nest(flat []any, dims []pgtype.ArrayDimension) []any {
	if len(dims) <= 1 {
		return flat
	}
	n := int(dims[0].Length)
	if n == 0 {
		return []any{}
	}
	step := len(flat) / n
	out := make([]any, n)
	for i := range out {
		out[i] = nest(flat[i*step:(i+1)*step:(i+1)*step], dims[1:])
	}
	return out
}
