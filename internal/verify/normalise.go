package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// colType is what the normaliser needs to know of a column: its base type
// as capture.Describe reports it ("int8", "numeric", "timestamptz",
// "enum", ...) and whether it is an array of that type.
type colType struct {
	Base  string
	Array bool
}

// A canonical value is nil, a leaf string with a one-letter type prefix
// ("i:" integer, "n:" decimal, "f:" float, "b:" boolean, "t:" instant,
// "y:" bytes as base64, "s:" text), a []any or a map[string]any. Two values
// are equal exactly when their canonical forms encode to the same JSON, so
// formatting differences (offsets, trailing zeros, key order) vanish.

// canon normalises one decoded JSON value (numbers as json.Number) by the
// type of the column it belongs to. Both the value PostgreSQL yields and
// the value found in the index go through it.
func canon(t colType, v any) any {
	if v == nil {
		return nil
	}
	if t.Array {
		arr, ok := v.([]any)
		if !ok {
			return canonJSON(v)
		}
		out := make([]any, len(arr))
		elem := colType{Base: t.Base}
		for i, e := range arr {
			if _, nested := e.([]any); nested {
				out[i] = canon(t, e) // a further dimension
			} else {
				out[i] = canon(elem, e)
			}
		}
		return out
	}
	if s, ok := v.(string); ok {
		return canonString(t.Base, s)
	}
	if n, ok := v.(json.Number); ok {
		return canonNumber(t.Base, string(n))
	}
	if b, ok := v.(bool); ok && t.Base == "bool" {
		return "b:" + strconv.FormatBool(b)
	}
	return canonJSON(v)
}

func canonString(base, s string) any {
	switch base {
	case "int2", "int4", "int8", "numeric", "float4", "float8":
		return canonNumber(base, s)
	case "date", "timestamp", "timestamptz":
		if ts, ok := parseInstant(s); ok {
			return "t:" + ts.Format(time.RFC3339Nano)
		}
	case "bytea":
		return "y:" + canonBytes(s)
	}
	return "s:" + s
}

// canonNumber normalises a number. Floats that are not finite have no JSON
// number: both PostgreSQL's to_jsonb and projector write them as the
// strings "NaN", "Infinity" and "-Infinity". Minus zero equals zero, since
// jsonb, which stores numbers as numeric, has no -0.
func canonNumber(base, s string) any {
	switch base {
	case "float4", "float8":
		bits := 64
		if base == "float4" {
			bits = 32
		}
		f, err := strconv.ParseFloat(s, bits)
		if err != nil {
			return "s:" + s
		}
		switch {
		case math.IsNaN(f):
			return "f:NaN"
		case math.IsInf(f, 1):
			return "f:Infinity"
		case math.IsInf(f, -1):
			return "f:-Infinity"
		case f == 0:
			return "f:0"
		}
		return "f:" + strconv.FormatFloat(f, 'g', -1, bits)
	case "int2", "int4", "int8":
		if i, ok := new(big.Int).SetString(s, 10); ok {
			return "i:" + i.String()
		}
	}
	if d, ok := decimal(s); ok {
		return "n:" + d
	}
	return "s:" + s
}

// decimal writes s as an exact decimal without trailing zeros, so that
// "12.50", "12.5" and 1.25e1 compare equal.
func decimal(s string) (string, bool) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", false
	}
	if r.IsInt() {
		return r.Num().String(), true
	}
	// A terminating decimal's denominator is 2^a * 5^b; it needs max(a, b)
	// fractional digits.
	d := new(big.Int).Set(r.Denom())
	twos := d.TrailingZeroBits()
	d.Rsh(d, twos)
	fives := uint(0)
	five, m := big.NewInt(5), new(big.Int)
	for d.Cmp(big.NewInt(1)) > 0 {
		q, rem := new(big.Int).QuoRem(d, five, m)
		if rem.Sign() != 0 {
			return r.RatString(), true // not a decimal; still canonical
		}
		d = q
		fives++
	}
	out := r.FloatString(int(max(twos, fives)))
	return strings.TrimRight(strings.TrimRight(out, "0"), "."), true
}

// parseInstant reads RFC 3339 with or without an offset (PostgreSQL's
// timestamp without time zone has none) and plain dates, all as UTC. Years
// may have more than four digits and a sign, as ISO 8601's expanded years
// ("+10000-01-01") or as PostgreSQL prints them ("10000-01-01"), and may
// end in PostgreSQL's " BC": 1 BC is ISO year 0000, 2 BC year -0001.
func parseInstant(s string) (time.Time, bool) {
	s, bc := strings.CutSuffix(s, " BC")
	sign := 1
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "-"):
		s, sign = s[1:], -1
	}
	end := strings.IndexByte(s, '-')
	if end < 4 || (bc && sign < 0) {
		return time.Time{}, false
	}
	year, err := strconv.Atoi(s[:end])
	if err != nil || s[0] == '+' || s[0] == '-' {
		return time.Time{}, false
	}
	year *= sign
	if bc {
		year = 1 - year
	}
	// time.Parse reads four-digit years only: parse the rest in a
	// stand-in year that has the same February, then put the year back.
	stand := 2001
	if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		stand = 2000
	}
	rest := strconv.Itoa(stand) + s[end:]
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if ts, err := time.Parse(layout, rest); err == nil {
			_, month, day := ts.Date()
			hour, minute, sec := ts.Clock()
			return time.Date(year, month, day, hour, minute, sec, ts.Nanosecond(), ts.Location()).UTC(), true
		}
	}
	return time.Time{}, false
}

// canonBytes turns PostgreSQL's hex output ("\x01ff") into the base64 form
// projector writes; base64 input is re-encoded so padding variants agree.
func canonBytes(s string) string {
	if rest, ok := strings.CutPrefix(s, `\x`); ok {
		if b, err := hex.DecodeString(rest); err == nil {
			return base64.StdEncoding.EncodeToString(b)
		}
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return base64.StdEncoding.EncodeToString(b)
	}
	return s
}

// canonJSON normalises an embedded JSON value, or a value whose shape does
// not fit its column: objects compare by key, numbers as decimals.
func canonJSON(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return "s:" + x
	case bool:
		return "b:" + strconv.FormatBool(x)
	case json.Number:
		return canonNumber("numeric", string(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonJSON(e)
		}
		return out
	default:
		return "s:?"
	}
}

// display renders a canonical value as the JSON a person expects to see.
func display(v any) string {
	b, err := json.Marshal(plain(v))
	if err != nil {
		return "?"
	}
	return string(b)
}

// plain strips the type prefixes from a canonical value.
func plain(v any) any {
	switch x := v.(type) {
	case string:
		kind, rest, _ := strings.Cut(x, ":")
		switch kind {
		case "i", "n", "f":
			return json.Number(rest)
		case "b":
			return rest == "true"
		}
		return rest
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	}
	return v
}

// decodeJSON decodes one JSON text keeping numbers exact. Plain scalars,
// which most column values are, skip the decoder's allocations.
func decodeJSON(data []byte) (any, error) {
	if v, ok := scalar(data); ok {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid JSON: data after the value at offset %d", dec.InputOffset())
	}
	return v, nil
}

// scalar decodes null, booleans, numbers and strings without escapes.
func scalar(data []byte) (any, bool) {
	switch {
	case len(data) == 0:
		return nil, false
	case string(data) == "null":
		return nil, true
	case string(data) == "true":
		return true, true
	case string(data) == "false":
		return false, true
	case data[0] == '"':
		if len(data) < 2 || data[len(data)-1] != '"' || bytes.ContainsAny(data[1:len(data)-1], "\\\"") {
			return nil, false
		}
		return string(data[1 : len(data)-1]), true
	case data[0] == '-' || (data[0] >= '0' && data[0] <= '9'):
		if !json.Valid(data) {
			return nil, false
		}
		return json.Number(data), true
	}
	return nil, false
}
