package fold

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// Shape is an entity's columns as a view sees them: the key column id and
// the declared fields, with their PostgreSQL types. A field the reducer
// produces without a declaration is jsonb.
type Shape struct {
	types map[string]string // column: base type
}

// NewShape reads the columns a stream declares.
func NewShape(s config.EventStream) Shape {
	types := map[string]string{config.EntityKey: "text"}
	for field, typ := range s.Fields {
		types[field], _ = config.EntityType(typ) // checked by config
	}
	return Shape{types: types}
}

// Info describes the entity as the catalog describes a table, so views
// compile against it like against one: keyed and unique by id.
func (sh Shape) Info(entity string) *capture.TableInfo {
	info := &capture.TableInfo{
		Table: capture.Table{Schema: config.EntitySchema, Name: entity},
		Key:   []string{config.EntityKey}, Unique: [][]string{{config.EntityKey}},
	}
	for _, name := range slices.Sorted(maps.Keys(sh.types)) {
		base := sh.types[name]
		info.Columns = append(info.Columns, capture.Column{Name: name, Type: base, Base: base, NotNull: name == config.EntityKey})
	}
	return info
}

// Row renders an entity as a row: its key under id and every field of its
// state converted to the declared type. A value that does not convert is
// an error naming the field, and the event that produced it fails.
func (sh Shape) Row(id string, state map[string]any) (capture.Row, error) {
	row := make(capture.Row, len(state)+1)
	key, err := convert(id, sh.types[config.EntityKey])
	if err != nil {
		return nil, fmt.Errorf("aggregate id %q: %w", id, err)
	}
	row[config.EntityKey] = key
	for field, v := range state {
		if field == config.EntityKey {
			continue // the key is the aggregate id, whatever the state says
		}
		cv, err := convert(v, sh.typeOf(field))
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", field, err)
		}
		row[field] = cv
	}
	return row, nil
}

// Key is the entity's key value for the aggregate id: the key column of
// Row's row.
func (sh Shape) Key(id string) (any, error) {
	key, err := convert(id, sh.types[config.EntityKey])
	if err != nil {
		return nil, fmt.Errorf("aggregate id %q: %w", id, err)
	}
	return key, nil
}

// Value converts one field's value of a state as Row does: to the field's
// declared type, or to jsonb.
func (sh Shape) Value(field string, v any) (any, error) {
	return convert(v, sh.typeOf(field))
}

// AppendValue appends Value(field, v) as capture.AppendValue writes it,
// and reports whether it is a numeric, which documents may render as a
// number. The engine renders an entity row's columns this way for every
// event folded: the common values (whole numbers, finite floats, text)
// are written without a converted value boxed in between.
func (sh Shape) AppendValue(b []byte, field string, v any) ([]byte, bool, error) {
	typ := sh.typeOf(field)
	switch x := v.(type) {
	case int:
		switch typ {
		case "int8", "int4":
			return strconv.AppendInt(b, int64(x), 10), false, nil
		case "numeric":
			b = strconv.AppendInt(append(b, '"'), int64(x), 10)
			return append(b, '"'), true, nil
		}
	case float64:
		if typ == "numeric" && !math.IsInf(x, 0) && !math.IsNaN(x) {
			b = strconv.AppendFloat(append(b, '"'), x, 'f', -1, 64)
			return append(b, '"'), true, nil
		}
	case string:
		if typ == "text" {
			return capture.AppendValue(b, v), false, nil
		}
	}
	cv, err := convert(v, typ)
	if err != nil {
		return b, false, err
	}
	_, numeric := cv.(capture.Numeric)
	return capture.AppendValue(b, cv), numeric, nil
}

// JSON reports whether a field is jsonb, declared or not: Row's value
// for it, unless null, is the field's encoding in the state's.
func (sh Shape) JSON(field string) bool { return sh.typeOf(field) == "jsonb" }

// typeOf is a field's base type: declared, or jsonb.
func (sh Shape) typeOf(field string) string {
	if typ, ok := sh.types[field]; ok {
		return typ
	}
	return "jsonb"
}

// EncodedRow is Row and the state encoded as AppendJSON writes it, at
// once: the row's jsonb values are slices of the state's encoding. It is
// the reference rendering of an entity: the engine renders the row views
// store straight from AppendState's encoding (transform's entityRow), and
// its tests hold that to project(EncodedRow(state)).
func (sh Shape) EncodedRow(id string, state map[string]any) (capture.Row, []byte, error) {
	key, err := convert(id, sh.types[config.EntityKey])
	if err != nil {
		return nil, nil, fmt.Errorf("aggregate id %q: %w", id, err)
	}
	var room [16]string
	var spanRoom [16]Span
	b, fields, spans, err := AppendState(nil, state, room[:0], spanRoom[:0])
	if err != nil {
		return nil, nil, err
	}
	row := make(capture.Row, len(state)+1)
	row[config.EntityKey] = key
	for i, field := range fields {
		if field == config.EntityKey {
			continue // the key is the aggregate id, whatever the state says
		}
		v, typ := state[field], sh.typeOf(field)
		if typ == "jsonb" && v != nil {
			row[field] = json.RawMessage(b[spans[i].Start:spans[i].End:spans[i].End])
			continue
		}
		cv, err := convert(v, typ)
		if err != nil {
			return nil, nil, fmt.Errorf("field %s: %w", field, err)
		}
		row[field] = cv
	}
	return row, b, nil
}

// Span is where an encoded value lies in the buffer it was appended to:
// b[Start:End].
type Span struct{ Start, End int }

// AppendState appends state to b as AppendJSON encodes it, and appends
// each of its fields, in name order (the order of the encoding), to fields
// and where its value lies in the result to spans: a caller can take a
// field's value from the state's encoding instead of encoding it again.
func AppendState(b []byte, state map[string]any, fields []string, spans []Span) ([]byte, []string, []Span, error) {
	first := len(fields)
	for field := range state {
		fields = append(fields, field)
	}
	slices.Sort(fields[first:])
	b = append(b, '{')
	for i, field := range fields[first:] {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, field)
		b = append(b, ':')
		start := len(b)
		var err error
		if b, err = AppendJSON(b, state[field]); err != nil {
			return nil, nil, nil, fmt.Errorf("encode field %s: %w", field, err)
		}
		spans = append(spans, Span{Start: start, End: len(b)})
	}
	return append(b, '}'), fields, spans, nil
}

// convert turns a JSON value into the Go value capture gives a column of
// base type typ. JSON null is NULL whatever the type.
func convert(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "jsonb":
		b, err := AppendJSON(nil, v)
		if err != nil {
			return nil, fmt.Errorf("encode as jsonb: %w", err)
		}
		return json.RawMessage(b), nil
	case "text":
		switch x := v.(type) {
		case string:
			return x, nil
		case map[string]any, []any:
			return nil, fmt.Errorf("is %s, not text", kind(v))
		default:
			b, err := json.Marshal(x)
			return string(b), err
		}
	case "int8", "int4":
		return integer(v)
	case "numeric":
		switch x := v.(type) {
		case string:
			if _, ok := new(big.Float).SetString(x); !ok {
				return nil, fmt.Errorf("%q is not a number", x)
			}
			return capture.Numeric(x), nil
		case int:
			return capture.Numeric(strconv.Itoa(x)), nil
		case float64:
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return nil, fmt.Errorf("%v is not a finite number", x)
			}
			return capture.Numeric(strconv.FormatFloat(x, 'f', -1, 64)), nil
		case *big.Int:
			return capture.Numeric(x.String()), nil
		}
	case "float8":
		switch x := v.(type) {
		case int:
			return float64(x), nil
		case float64:
			return x, nil
		case *big.Int:
			f, _ := new(big.Float).SetInt(x).Float64()
			return f, nil
		}
	case "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "timestamptz":
		if s, ok := v.(string); ok {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, fmt.Errorf("%q is not an RFC 3339 time", s)
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("is %s, not %s", kind(v), typ)
}

// integer converts a whole number, or a string of one, to int64.
func integer(v any) (any, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
		return nil, fmt.Errorf("%v is not a whole number", x)
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", x)
		}
		return i, nil
	}
	return nil, fmt.Errorf("is %s, not a whole number", kind(v))
}
