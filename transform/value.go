package transform

import (
	"encoding/json"
	"strconv"

	"github.com/projector-dev/projector/capture"
)

// appendJSON writes a captured value in its document form, the one every
// consumer of projector's events sees too (see capture.AppendValue).
func appendJSON(b []byte, v any) []byte { return capture.AppendValue(b, v) }

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte { return capture.AppendValue(b, s) }

// isNumeric reports whether v is a PostgreSQL numeric (or an array of them).
func isNumeric(v any) bool {
	switch x := v.(type) {
	case capture.Numeric:
		return true
	case []any:
		for _, e := range x {
			if e != nil {
				return isNumeric(e)
			}
		}
	}
	return false
}

// numberForm turns an exact numeric string into a JSON number when it is
// finite; NaN and infinities stay strings.
func numberForm(raw string) string {
	if len(raw) < 2 || raw[0] != '"' {
		return raw
	}
	var s string
	if json.Unmarshal([]byte(raw), &s) != nil {
		return raw
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil || s == "NaN" || s == "Infinity" || s == "-Infinity" {
		return raw
	}
	return s
}
