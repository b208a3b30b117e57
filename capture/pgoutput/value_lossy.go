package pgoutput

import (
	"encoding/json"
	"math"
)

// LossyReason is a way a value's document form, or the index, cannot hold
// all of the value PostgreSQL has. docs/types.md describes each.
type LossyReason uint8

// The lossy reasons, each a label of projector_lossy_values_total.
const (
	// NotFinite is a NaN or infinite float or numeric, written as a string
	// that a number field keeps but does not index.
	NotFinite LossyReason = iota
	// InfiniteDate is an infinite date or timestamp, written as
	// "infinity" or "-infinity", which a date field keeps but does not
	// index.
	InfiniteDate
	// JSONRepeatedKey is a json object that repeated a key; only the last
	// value of that key is kept, as jsonb does.
	JSONRepeatedKey
	// ArrayBounds is an array whose lower bound is not 1; documents hold
	// the elements without their bounds.
	ArrayBounds
	// LossyReasons is the number of reasons.
	LossyReasons
)

// String is the reason's label in projector_lossy_values_total.
func (r LossyReason) String() string {
	return [...]string{"not_finite", "infinite_date", "json_repeated_key", "array_bounds"}[r]
}

// LossyCounts counts lossy values by reason.
type LossyCounts [LossyReasons]uint64

// noteLossy counts val when it is one of the values docs/types.md lists
// as lossy. It only looks at kinds that can be.
func (c *Values[N]) noteLossy(k valueKind, val any) {
	switch k {
	case floatValue:
		if f, _ := val.(float64); math.IsNaN(f) || math.IsInf(f, 0) {
			c.lossy[NotFinite]++
		}
	case numericValue:
		if n, _ := val.(N); n == "NaN" || n == "Infinity" || n == "-Infinity" {
			c.lossy[NotFinite]++
		}
	case dateValue, timestampValue, timestamptzValue:
		if _, infinite := val.(string); infinite {
			c.lossy[InfiniteDate]++
		}
	}
}

// TakeLossy returns the lossy values counted since the last call.
func (c *Values[N]) TakeLossy() LossyCounts {
	n := c.lossy
	c.lossy = LossyCounts{}
	return n
}

// uniqueKeysCounted is uniqueKeys, counting a value that repeated a key.
func (c *Values[N]) uniqueKeysCounted(raw json.RawMessage) (json.RawMessage, error) {
	out, repeated, err := uniqueKeys(raw)
	if repeated {
		c.lossy[JSONRepeatedKey]++
	}
	return out, err
}
