package capture

import (
	"encoding/json"
	"math"
)

// lossyReason is a way a value's document form, or the index, cannot hold
// all of the value PostgreSQL has. docs/types.md describes each.
type lossyReason uint8

const (
	// notFinite: a NaN or infinite float or numeric, written as a string
	// that a number field keeps but does not index.
	notFinite lossyReason = iota
	// infiniteDate: an infinite date or timestamp, written as "infinity"
	// or "-infinity", which a date field keeps but does not index.
	infiniteDate
	// jsonRepeatedKey: a json object repeated a key; only the last value
	// of that key is kept, as jsonb does.
	jsonRepeatedKey
	// arrayBounds: an array whose lower bound is not 1; documents hold
	// the elements without their bounds.
	arrayBounds
	lossyReasons // the number of reasons
)

// String is the reason's label in projector_lossy_values_total.
func (r lossyReason) String() string {
	return [...]string{"not_finite", "infinite_date", "json_repeated_key", "array_bounds"}[r]
}

// lossyCounts counts lossy values by reason.
type lossyCounts [lossyReasons]uint64

// noteLossy counts val when it is one of the values docs/types.md lists
// as lossy. It only looks at kinds that can be.
func (c *valueCodecs) noteLossy(k valueKind, val any) {
	switch k {
	case floatValue:
		if f, _ := val.(float64); math.IsNaN(f) || math.IsInf(f, 0) {
			c.lossy[notFinite]++
		}
	case numericValue:
		if n, _ := val.(Numeric); n == "NaN" || n == "Infinity" || n == "-Infinity" {
			c.lossy[notFinite]++
		}
	case dateValue, timestampValue, timestamptzValue:
		if _, infinite := val.(string); infinite {
			c.lossy[infiniteDate]++
		}
	}
}

// takeLossy returns the lossy values counted since the last call.
func (c *valueCodecs) takeLossy() lossyCounts {
	n := c.lossy
	c.lossy = lossyCounts{}
	return n
}

// takeLossy returns the lossy values the decoder met since the last call.
func (d *Decoder) takeLossy() lossyCounts { return d.values.takeLossy() }

// takeLossy returns the lossy values the snapshot decoder met since the
// last call.
func (c *CatalogTypes) takeLossy() lossyCounts {
	c.textMu.Lock()
	defer c.textMu.Unlock()
	if c.text == nil {
		return lossyCounts{}
	}
	return c.text.takeLossy()
}

// uniqueKeysCounted is uniqueKeys, counting a value that repeated a key.
func (c *valueCodecs) uniqueKeysCounted(raw json.RawMessage) (json.RawMessage, error) {
	out, repeated, err := uniqueKeys(raw)
	if repeated {
		c.lossy[jsonRepeatedKey]++
	}
	return out, err
}
