package pgoutput

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// valueKind is the Go shape a column's values take in a Row.
type valueKind uint8

const (
	textValue        valueKind = iota // string: text types, enums and every type without a better shape
	intValue                          // int64
	floatValue                        // float64, NaN and ±Inf included
	boolValue                         // bool
	numericValue                      // N, exact
	uuidValue                         // string, canonical form
	dateValue                         // time.Time at UTC midnight, or "infinity" / "-infinity"
	timestampValue                    // time.Time in UTC, or "infinity" / "-infinity"
	timestamptzValue                  // time.Time in UTC, or "infinity" / "-infinity"
	timeValue                         // string, 15:04:05.999999
	intervalValue                     // string, PostgreSQL's output
	jsonValue                         // json.RawMessage, json and jsonb
	byteaValue                        // []byte
	arrayValue                        // []any, nested per dimension
	hstoreValue                       // json.RawMessage, an object of strings and nulls
)

// kindOf picks the shape of a type pgx knows.
func kindOf(oid uint32) valueKind {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return intValue
	case pgtype.Float4OID, pgtype.Float8OID:
		return floatValue
	case pgtype.BoolOID:
		return boolValue
	case pgtype.NumericOID:
		return numericValue
	case pgtype.UUIDOID:
		return uuidValue
	case pgtype.DateOID:
		return dateValue
	case pgtype.TimestampOID:
		return timestampValue
	case pgtype.TimestamptzOID:
		return timestamptzValue
	case pgtype.TimeOID:
		return timeValue
	case pgtype.IntervalOID:
		return intervalValue
	case pgtype.JSONOID, pgtype.JSONBOID:
		return jsonValue
	case pgtype.ByteaOID:
		return byteaValue
	default:
		return textValue
	}
}

// scratch holds one pgx scan target per shape. Scanning into a field of a
// long-lived struct instead of a local keeps the target from escaping to
// the heap on every value.
type scratch struct {
	i     int64
	f     float64
	b     bool
	num   pgtype.Numeric
	uuid  pgtype.UUID
	date  pgtype.Date
	ts    pgtype.Timestamp
	tz    pgtype.Timestamptz
	tm    pgtype.Time
	iv    pgtype.Interval
	bytes []byte
}

// target is where pgx scans a value of kind k; nil for kinds decoded
// without a pgx scan plan.
func (s *scratch) target(k valueKind) any {
	switch k {
	case intValue:
		return &s.i
	case floatValue:
		return &s.f
	case boolValue:
		return &s.b
	case numericValue:
		return &s.num
	case uuidValue:
		return &s.uuid
	case dateValue:
		return &s.date
	case timestampValue:
		return &s.ts
	case timestamptzValue:
		return &s.tz
	case timeValue:
		return &s.tm
	case intervalValue:
		return &s.iv
	case jsonValue, byteaValue:
		return &s.bytes
	default:
		return nil
	}
}

// scanned reads back what the last scan into target(k) produced.
func (c *Values[N]) scanned(k valueKind) (any, error) {
	s := &c.scratch
	switch k {
	case intValue:
		return s.i, nil
	case floatValue:
		return s.f, nil
	case boolValue:
		return s.b, nil
	case numericValue:
		text, err := c.pg.Encode(pgtype.NumericOID, pgtype.TextFormatCode, s.num, nil)
		if err != nil {
			return nil, fmt.Errorf("print numeric: %w", err)
		}
		return N(text), nil
	case uuidValue:
		return s.uuid.String(), nil
	case dateValue:
		return orInfinity(s.date.Time, s.date.InfinityModifier), nil
	case timestampValue:
		return orInfinity(s.ts.Time, s.ts.InfinityModifier), nil
	case timestamptzValue:
		return orInfinity(s.tz.Time, s.tz.InfinityModifier), nil
	case timeValue:
		return formatTime(s.tm.Microseconds), nil
	case intervalValue:
		return formatInterval(s.iv), nil
	case jsonValue:
		return json.RawMessage(s.bytes), nil
	case byteaValue:
		return s.bytes, nil
	default:
		return nil, fmt.Errorf("no scanned value for kind %d", k)
	}
}

// orInfinity keeps PostgreSQL's infinite dates and timestamps as the
// strings it prints for them: no time.Time can stand for them.
func orInfinity(t time.Time, inf pgtype.InfinityModifier) any {
	switch inf {
	case pgtype.Infinity:
		return "infinity"
	case pgtype.NegativeInfinity:
		return "-infinity"
	default:
		return t.UTC()
	}
}
