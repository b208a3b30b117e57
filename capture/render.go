package capture

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// AppendValue appends a Row value in its JSON form, the one form every
// consumer sees: documents in the index, serialised transactions and the
// event formats of `projector tail`. Timestamps are RFC 3339 in UTC (years
// past 9999 with ISO 8601's "+", 1 BC as year 0000), numerics exact
// strings, bytea base64, json as it is. NaN and infinite floats have no
// JSON number, so they are written as the strings PostgreSQL prints:
// "NaN", "Infinity", "-Infinity".
func AppendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return append(b, `"NaN"`...)
		case math.IsInf(x, 1):
			return append(b, `"Infinity"`...)
		case math.IsInf(x, -1):
			return append(b, `"-Infinity"`...)
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendJSONString(b, x)
	case Numeric:
		return appendJSONString(b, string(x))
	case time.Time:
		b = append(b, '"')
		if x.Year() > 9999 {
			b = append(b, '+') // ISO 8601's expanded year, which the engines read
		}
		b = x.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	case []byte:
		return appendJSONString(b, base64.StdEncoding.EncodeToString(x))
	case json.RawMessage:
		if len(x) == 0 {
			return append(b, "null"...)
		}
		return append(b, x...)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendValue(b, e)
		}
		return append(b, ']')
	default:
		return appendJSONString(b, fmt.Sprint(x))
	}
}

// appendJSONString appends s as a JSON string, escaped as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	if plain { // column names and most keys: nothing to escape
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	out, err := json.Marshal(s)
	if err != nil {
		// A Go string always marshals; keep the document valid regardless.
		return append(b, `""`...)
	}
	return append(b, out...)
}
