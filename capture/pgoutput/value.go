package pgoutput

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// maxTypeDepth bounds how deep domains over arrays over domains may nest,
// so that a catalog answering in circles cannot recurse forever.
const maxTypeDepth = 8

// Values turns column values into the Go values of a Row, building one
// valueDecoder per type OID the first time the type is seen. N is the Go
// type of numeric values. It is not safe for concurrent use: all decoders
// share its scratch space, which keeps pgx's scan targets off the heap.
type Values[N ~string] struct {
	pg       *pgtype.Map
	resolver TypeResolver
	byOID    map[uint32]*valueDecoder
	scratch  scratch
	lossy    LossyCounts // since the last TakeLossy
}

// NewValues returns value decoders that ask resolver about the types pgx
// does not know; with a nil resolver, values of such types are kept as
// text.
func NewValues[N ~string](resolver TypeResolver) *Values[N] {
	return &Values[N]{pg: pgtype.NewMap(), resolver: resolver, byOID: map[uint32]*valueDecoder{}}
}

// Prepare resolves the types oids ahead of DecodeText, for callers that
// decode while their connection is busy reading a result and so could not
// answer a catalog query at that moment.
func (c *Values[N]) Prepare(ctx context.Context, oids ...uint32) error {
	for _, oid := range oids {
		if _, err := c.decoderFor(ctx, oid); err != nil {
			return err
		}
	}
	return nil
}

// DecodeText decodes one value in the text format, as a query returns it,
// into the same Go value the replication stream yields. A nil src is NULL.
// The result does not alias src.
func (c *Values[N]) DecodeText(ctx context.Context, oid uint32, src []byte) (any, error) {
	if src == nil {
		return nil, nil
	}
	v, err := c.decoderFor(ctx, oid)
	if err != nil {
		return nil, err
	}
	return c.decode(v, pgtype.TextFormatCode, src)
}

// valueDecoder decodes the values of one type. Built once per type, it
// holds the pgx scan plans for both wire formats.
type valueDecoder struct {
	kind  valueKind
	oid   uint32 // the type pgx decodes: a domain's base type
	plans [2]pgtype.ScanPlan
	elem  *valueDecoder // arrays: the element type
	// binaryText says the binary format of the type is its text, as for
	// enums, whose binary form is the label.
	binaryText bool
}

// decoderFor returns the decoder for values of the type oid, asking the
// resolver only about types pgx does not know.
func (c *Values[N]) decoderFor(ctx context.Context, oid uint32) (*valueDecoder, error) {
	return c.lookup(ctx, oid, 0)
}

func (c *Values[N]) lookup(ctx context.Context, oid uint32, depth int) (*valueDecoder, error) {
	if v, ok := c.byOID[oid]; ok {
		return v, nil
	}
	if depth > maxTypeDepth {
		return nil, fmt.Errorf("type %d: domains and arrays nest more than %d deep", oid, maxTypeDepth)
	}
	v, err := c.build(ctx, oid, depth)
	if err != nil {
		return nil, err
	}
	c.byOID[oid] = v
	return v, nil
}

func (c *Values[N]) build(ctx context.Context, oid uint32, depth int) (*valueDecoder, error) {
	if t, ok := c.pg.TypeForOID(oid); ok {
		if ac, ok := t.Codec.(*pgtype.ArrayCodec); ok {
			return c.array(ctx, ac.ElementType.OID, ac.Delimiter, depth)
		}
		return c.scalar(oid), nil
	}
	if c.resolver == nil {
		return &valueDecoder{kind: textValue, oid: oid}, nil
	}
	info, err := c.resolver.ResolveType(ctx, oid)
	switch {
	case errors.Is(err, ErrTypeNotFound):
		return &valueDecoder{kind: textValue, oid: oid}, nil
	case err != nil:
		return nil, fmt.Errorf("resolve type %d: %w", oid, err)
	}
	switch info.Kind {
	case BaseType:
		if info.Name == "hstore" || strings.HasSuffix(info.Name, ".hstore") {
			return &valueDecoder{kind: hstoreValue, oid: oid}, nil
		}
		return &valueDecoder{kind: textValue, oid: oid}, nil
	case EnumType:
		return &valueDecoder{kind: textValue, oid: oid, binaryText: true}, nil
	case DomainType:
		return c.lookup(ctx, info.BaseOID, depth+1)
	case ArrayType:
		return c.array(ctx, info.ElemOID, ',', depth)
	default:
		return &valueDecoder{kind: textValue, oid: oid}, nil
	}
}

// scalar builds the decoder of a type pgx knows, planning its scans once.
func (c *Values[N]) scalar(oid uint32) *valueDecoder {
	v := &valueDecoder{kind: kindOf(oid), oid: oid}
	if target := c.scratch.target(v.kind); target != nil {
		for format := range v.plans {
			v.plans[format] = c.pg.PlanScan(oid, int16(format), target)
		}
	}
	return v
}

// decode turns one non-NULL value in the given wire format into its Go
// value. The result never aliases src.
func (c *Values[N]) decode(v *valueDecoder, format int16, src []byte) (any, error) {
	if format != pgtype.TextFormatCode && format != pgtype.BinaryFormatCode {
		return nil, fmt.Errorf("unknown value format %d", format)
	}
	switch {
	case v.kind == textValue:
		return c.decodeText(v, format, src)
	case v.kind == arrayValue:
		return c.decodeArray(v, format, src)
	case v.kind == hstoreValue:
		return c.decodeHstore(format, src)
	case format == pgtype.TextFormatCode && (v.kind == numericValue || v.kind == intervalValue):
		// The server's text is already the exact value wanted; parsing a
		// numeric into a big.Int and printing it again would only cost.
		val := exactText[N](v.kind, src)
		c.noteLossy(v.kind, val)
		return val, nil
	}
	if err := v.plans[format].Scan(src, c.scratch.target(v.kind)); err != nil {
		if val, ok := fallback(v.kind, format, src); ok {
			return val, nil
		}
		return nil, fmt.Errorf("decode %s value: %w", c.typeName(v.oid), err)
	}
	val, err := c.scanned(v.kind)
	if err != nil {
		return nil, err
	}
	if v.oid == pgtype.JSONOID {
		// jsonb has unique keys already; json keeps what was written.
		return c.uniqueKeysCounted(val.(json.RawMessage))
	}
	c.noteLossy(v.kind, val)
	return val, nil
}

// typeName names a type for error messages.
func (c *Values[N]) typeName(oid uint32) string {
	if t, ok := c.pg.TypeForOID(oid); ok {
		return t.Name
	}
	return fmt.Sprintf("type %d", oid)
}
