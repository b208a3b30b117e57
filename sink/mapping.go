package sink

import "strings"

// FieldType is how a document field is indexed.
type FieldType string

// The field types projector maps columns and relations to.
const (
	// Text is full-text searchable, with a keyword sub-field for exact
	// matches, sorting and aggregations.
	Text    FieldType = "text"
	Keyword FieldType = "keyword"
	Long    FieldType = "long"
	Double  FieldType = "double"
	// ScaledFloat stores a decimal as a long scaled by Field.ScalingFactor.
	ScaledFloat FieldType = "scaled_float"
	Date        FieldType = "date"
	Boolean     FieldType = "boolean"
	// Object is a JSON object whose fields are indexed; with no Fields its
	// keys are mapped as they appear.
	Object FieldType = "object"
	// Flattened indexes a whole JSON object as keywords under one field,
	// so arbitrary keys never grow the mapping.
	Flattened FieldType = "flattened"
	// Nested keeps each element of an array of objects separate, so a
	// query matches fields of the same element.
	Nested FieldType = "nested"
	// Binary stores base64 bytes without indexing them: bytea values of
	// any length fit, where a keyword refuses terms over 32 kB.
	Binary FieldType = "binary"
	// Stored keeps a value in _source without parsing it, so a JSON value
	// of any shape (scalar, array, an object whose keys change type) is
	// accepted; it is returned but not searchable.
	Stored FieldType = "stored"
)

// keywordLimit is the ignore_above of keyword fields, in characters: a
// UTF-8 character takes at most four bytes, so 8191 of them stay under
// Lucene's 32766-byte limit on one term. Longer values stay in _source and
// are not indexed, instead of having the document refused.
const keywordLimit = 8191

// Field is one field of a view's documents. Fields lists the sub-fields
// of an Object or Nested field.
type Field struct {
	Name          string
	Type          FieldType
	ScalingFactor float64 // for ScaledFloat; 100 when zero
	Fields        []Field
}

// NumericMapping chooses how PostgreSQL numeric columns are indexed.
type NumericMapping int

const (
	// NumericAsKeyword keeps every digit, as an exact string.
	NumericAsKeyword NumericMapping = iota
	// NumericAsDouble allows ranges and sums at double precision.
	NumericAsDouble
	// NumericAsScaled allows ranges and sums at a fixed scale.
	NumericAsScaled
)

func (n NumericMapping) fieldType() FieldType {
	switch n {
	case NumericAsDouble:
		return Double
	case NumericAsScaled:
		return ScaledFloat
	}
	return Keyword
}

// JSONMapping chooses how a json or jsonb column is indexed. Documents
// hold the value as PostgreSQL has it whatever the choice.
type JSONMapping string

const (
	// JSONStored keeps the value in _source only: never refused, whatever
	// its shape, but not searchable. It is the default.
	JSONStored JSONMapping = "stored"
	// JSONFlattened indexes every leaf of an object as a keyword under one
	// field (flat_object on OpenSearch, flattened on Elasticsearch), so
	// keys never grow the mapping. A value that is not an object is
	// refused and dead-lettered.
	JSONFlattened JSONMapping = "flattened"
	// JSONObject maps the keys dynamically, with their types as the first
	// row that has them shows them. A later row whose key holds another
	// type, an empty key or a number beyond the engine's range is refused
	// and dead-lettered.
	JSONObject JSONMapping = "object"
)

func (j JSONMapping) fieldType() FieldType {
	switch j {
	case JSONFlattened:
		return Flattened
	case JSONObject:
		return Object
	}
	return Stored
}

// ColumnOptions choose between mappings that trade precision or
// flexibility for query features.
type ColumnOptions struct {
	Numeric NumericMapping
	// JSON is how json and jsonb columns are indexed; JSONStored when
	// empty.
	JSON JSONMapping
}

// ColumnType maps a PostgreSQL type name (as format_type or pgoutput's
// relation message spells it) to a field type. Arrays map to their
// element type, since the engine indexes an array as its values; types it
// does not know are indexed as keywords.
func ColumnType(pgType string, opts ColumnOptions) FieldType {
	t := baseTypeName(pgType)
	switch t {
	case "numeric", "decimal":
		return opts.Numeric.fieldType()
	case "json", "jsonb":
		return opts.JSON.fieldType()
	case "hstore":
		// Keys are arbitrary strings, empty or dotted ones included.
		return Flattened
	case "bytea":
		return Binary
	case "text", "character varying", "varchar", "character", "char", "bpchar", "citext", "name", "xml":
		return Text
	case "smallint", "integer", "bigint", "int", "int2", "int4", "int8", "serial", "bigserial", "oid":
		return Long
	case "real", "double precision", "float4", "float8":
		return Double
	case "boolean", "bool":
		return Boolean
	case "date", "timestamp", "timestamptz", "timestamp with time zone", "timestamp without time zone":
		return Date
	}
	return Keyword // uuid, enums, time, interval, inet and the rest compare exactly
}

// baseTypeName lower-cases a type name and drops its modifiers and array
// markers: "character varying(40)[]" becomes "character varying".
func baseTypeName(pgType string) string {
	t := strings.ToLower(strings.TrimSpace(pgType))
	t = strings.TrimSuffix(strings.TrimPrefix(t, "_"), "[]")
	if open := strings.IndexByte(t, '('); open >= 0 {
		if end := strings.IndexByte(t[open:], ')'); end >= 0 {
			t = t[:open] + t[open+end+1:]
		}
	}
	return strings.Join(strings.Fields(t), " ")
}

// RelationType maps a join kind to the field type that holds the joined
// rows: has_many keeps each row apart (nested), belongs_to and has_one
// embed one object.
func RelationType(kind string) FieldType {
	if kind == "has_many" {
		return Nested
	}
	return Object
}

// Mapping builds an index's explicit mappings from a view's fields.
// Dynamic mapping is off at the top level: a field the view does not
// declare stays in _source but never changes the index's mapping, which
// only a new index version may do.
func Mapping(fields []Field, flavour Flavour) map[string]any {
	return map[string]any{"dynamic": false, "properties": properties(fields, flavour)}
}

func properties(fields []Field, flavour Flavour) map[string]any {
	props := make(map[string]any, len(fields))
	for _, f := range fields {
		props[f.Name] = fieldMapping(f, flavour)
	}
	return props
}

func fieldMapping(f Field, flavour Flavour) map[string]any {
	switch f.Type {
	case Text:
		return map[string]any{"type": "text", "fields": map[string]any{
			"keyword": map[string]any{"type": "keyword", "ignore_above": 256},
		}}
	case Keyword:
		return map[string]any{"type": "keyword", "ignore_above": keywordLimit}
	case Double, Date:
		// NaN, ±Infinity, numerics beyond double's range and infinite
		// dates stay in _source as strings; the engine leaves them out of
		// the index (and lists the field in _ignored) instead of refusing
		// the document.
		return map[string]any{"type": string(f.Type), "ignore_malformed": true}
	case ScaledFloat:
		factor := f.ScalingFactor
		if factor == 0 {
			factor = 100
		}
		return map[string]any{"type": "scaled_float", "scaling_factor": factor, "ignore_malformed": true}
	case Binary:
		return map[string]any{"type": "binary"}
	case Stored:
		return map[string]any{"type": "object", "enabled": false}
	case Flattened:
		if flavour == OpenSearch {
			return map[string]any{"type": "flat_object"}
		}
		return map[string]any{"type": "flattened"}
	case Object, Nested:
		if len(f.Fields) == 0 {
			// A json column: its keys are whatever the rows hold.
			return map[string]any{"type": string(f.Type), "dynamic": true}
		}
		return map[string]any{"type": string(f.Type), "properties": properties(f.Fields, flavour)}
	}
	return map[string]any{"type": string(f.Type)}
}
