package transform

import (
	"encoding/json"
	"strconv"

	"github.com/projector-dev/projector/capture"
)

// appendJSON writes a captured value in its document form, the one every
// consumer of projector's events sees too (see capture.AppendValue).
func appendJSON(b []byte, v any) []byte { return capture.AppendValue(b, v) }

// appendString writes s as a JSON string. Field names and most keys need
// no escaping and are copied as they are; passed to capture.AppendValue,
// every one of them (a field name per document and level) was first
// boxed into an interface, an allocation each.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return capture.AppendValue(b, s) // escaped as encoding/json does
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

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
