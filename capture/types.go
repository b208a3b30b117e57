package capture

import (
	"github.com/projector-dev/projector/capture/pgoutput"
)

// TypeResolver tells the decoder what a column type is when pgx does not
// know it: enums, domains, arrays of those, composites and extension types
// all have OIDs that differ from one database to the next. CatalogTypes
// reads them from the source's pg_type.
type TypeResolver = pgoutput.TypeResolver

// ErrTypeNotFound means the catalog has no type with the OID asked for,
// typically because it was dropped after the change was written. Values of
// such a type are kept in their text form.
var ErrTypeNotFound = pgoutput.ErrTypeNotFound

// TypeInfo describes one row of pg_type.
type TypeInfo = pgoutput.TypeInfo

// TypeKind says how values of a type are decoded.
type TypeKind = pgoutput.TypeKind

// The kinds of types: see pgoutput.TypeKind.
const (
	OtherType     = pgoutput.OtherType
	BaseType      = pgoutput.BaseType
	EnumType      = pgoutput.EnumType
	DomainType    = pgoutput.DomainType
	ArrayType     = pgoutput.ArrayType
	CompositeType = pgoutput.CompositeType
	RangeType     = pgoutput.RangeType
)
