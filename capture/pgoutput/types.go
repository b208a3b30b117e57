package pgoutput

import (
	"context"
	"errors"
)

// TypeResolver tells the decoder what a column type is when pgx does not
// know it: enums, domains, arrays of those, composites and extension types
// all have OIDs that differ from one database to the next.
type TypeResolver interface {
	// ResolveType describes the type with the given OID. It returns an
	// error wrapping ErrTypeNotFound when the type no longer exists.
	ResolveType(ctx context.Context, oid uint32) (TypeInfo, error)
}

// ErrTypeNotFound means the catalog has no type with the OID asked for,
// typically because it was dropped after the change was written. Values of
// such a type are kept in their text form.
var ErrTypeNotFound = errors.New("type not found")

// TypeInfo describes one row of pg_type.
type TypeInfo struct {
	OID  uint32
	Name string
	Kind TypeKind
	// BaseOID is the underlying type of a domain.
	BaseOID uint32
	// ElemOID is the element type of an array.
	ElemOID uint32
}

// TypeKind says how values of a type are decoded.
type TypeKind uint8

// The kinds of types. Values of enums, composites, ranges and other kinds
// are kept as their PostgreSQL text; domains decode as their base type and
// arrays element by element.
const (
	OtherType TypeKind = iota
	BaseType
	EnumType
	DomainType
	ArrayType
	CompositeType
	RangeType
)

// String names the kind the way pg_type's documentation does.
func (k TypeKind) String() string {
	switch k {
	case BaseType:
		return "base"
	case EnumType:
		return "enum"
	case DomainType:
		return "domain"
	case ArrayType:
		return "array"
	case CompositeType:
		return "composite"
	case RangeType:
		return "range"
	default:
		return "other"
	}
}

// KindFromCatalog maps pg_type.typtype to a kind; arrays are base types
// (typtype 'b') whose category is 'A'.
func KindFromCatalog(typtype string, isArray bool) TypeKind {
	switch typtype {
	case "b":
		if isArray {
			return ArrayType
		}
		return BaseType
	case "e":
		return EnumType
	case "d":
		return DomainType
	case "c":
		return CompositeType
	case "r":
		return RangeType
	default:
		return OtherType
	}
}
