package fold

import (
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/projector-dev/projector/capture"
)

// Every event decodes its payload and its entity's stored state, and
// encodes the new state and its jsonb fields: encoding/json's reflection
// over interface values cost more than the fold itself. parseValue and
// AppendJSON read and write the few types fold values have directly, and
// give what encoding/json gives; input they do not understand is left to
// encoding/json, so its errors are the ones users see.

// maxDepth bounds the nesting parseValue follows, as encoding/json does.
const maxDepth = 10000

// text is what the parser reads: a stored state is read from the string
// the state store gives, without copying it (its strings and encoded
// objects are slices of it), and a payload from bytes.
type text interface{ ~string | ~[]byte }

// parser reads one JSON text into fold values.
type parser[T text] struct {
	data T
	pos  int
	// lazy keeps the objects in the arrays of a top-level object's fields
	// encoded (DecodeState).
	lazy bool
	// keys are the object keys read so far: the objects of an array of
	// items repeat the same few, which are allocated once.
	keys []string
	// objs holds the encoded objects read (lazy): the values point into
	// it, and an element never changes once appended, so a slab that
	// grows leaves the earlier values valid in its old array.
	objs []encodedObject
}

// parseJSON decodes data as one JSON value with nothing but white space
// after it. ok is false when data is not such a value or holds something
// parseJSON leaves to encoding/json.
func parseJSON(data []byte) (v any, ok bool) {
	var keys [16]string
	p := parser[[]byte]{data: data, keys: keys[:0]}
	v, ok = p.value(0)
	if !ok {
		return nil, false
	}
	p.space()
	return v, p.pos == len(p.data)
}

func (p *parser[T]) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser[T]) value(depth int) (any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	p.space()
	if p.pos >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, ok := p.string()
		return s, ok
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		for _, lit := range []struct {
			text  string
			value any
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if len(p.data)-p.pos >= len(lit.text) && string(p.data[p.pos:p.pos+len(lit.text)]) == lit.text {
				p.pos += len(lit.text)
				return lit.value, true
			}
		}
		return nil, false
	}
}

func (p *parser[T]) object(depth int) (any, bool) {
	p.pos++ // {
	obj := map[string]any{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return obj, true
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, false
		}
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, false
		}
		p.pos++
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		obj[key] = v
		p.space()
		if p.pos >= len(p.data) {
			return nil, false
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return obj, true
		default:
			return nil, false
		}
	}
}

func (p *parser[T]) array(depth int) (any, bool) {
	p.pos++ // [
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return []any{}, true
	}
	// The elements are collected in room and then copied into an array of
	// their number: appending to an array that grows would allocate it
	// again and again (an order's ten items: five times).
	var room [16]any
	elems := room[:0]
	for {
		var v any
		var ok bool
		if p.space(); p.lazy && depth == 1 && p.pos < len(p.data) && p.data[p.pos] == '{' {
			start := p.pos
			ok = p.skipObject()
			// Kept in a slab the parser grows, so that an array of
			// objects costs a few allocations, not one per object.
			if p.objs == nil {
				p.objs = make([]encodedObject, 0, 16)
			}
			p.objs = append(p.objs, encodedObject{json: string(p.data[start:p.pos])})
			v = &p.objs[len(p.objs)-1]
		} else {
			v, ok = p.value(depth + 1)
		}
		if !ok {
			return nil, false
		}
		elems = append(elems, v)
		p.space()
		if p.pos >= len(p.data) {
			return nil, false
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			arr := make([]any, len(elems))
			copy(arr, elems)
			return arr, true
		default:
			return nil, false
		}
	}
}

// key reads an object key, the same string as an earlier key when it
// is one of the first few seen.
func (p *parser[T]) key() (string, bool) {
	start := p.pos
	end := indexQuote(p.data[start+1:])
	if end >= 0 && plainKey(p.data[start+1:start+1+end]) {
		raw := p.data[start+1 : start+1+end]
		for _, k := range p.keys {
			if k == string(raw) {
				p.pos = start + end + 2
				return k, true
			}
		}
	}
	k, ok := p.string()
	if ok && len(p.keys) < 16 {
		p.keys = append(p.keys, k)
	}
	return k, ok
}

// plainKey reports whether raw, the bytes up to a key's first quote, is
// the whole key as it reads: no escape, no control character.
func plainKey[T text](raw T) bool {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c == '\\' || c < 0x20 {
			return false
		}
	}
	return true
}

// indexQuote is the index of the first '"' in s, or -1.
func indexQuote[T text](s T) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			return i
		}
	}
	return -1
}

// validUTF8 is utf8.Valid of s, without copying s when it is ASCII.
func validUTF8[T text](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(string(s[i:]))
		}
	}
	return true
}

// string reads a string; one with escapes or bytes that are not UTF-8 is
// unquoted by encoding/json, which replaces invalid bytes as it always has.
func (p *parser[T]) string() (string, bool) {
	start := p.pos
	p.pos++ // "
	plain := true
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			raw := p.data[start:p.pos]
			if plain && validUTF8(raw) {
				return string(raw[1 : len(raw)-1]), true
			}
			var s string
			if json.Unmarshal([]byte(raw), &s) != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			plain = false
			p.pos += 2
		case c < 0x20:
			return "", false
		default:
			p.pos++
		}
	}
	return "", false
}

// number reads a number as Decode promises: int when whole and small
// enough, a *big.Int when whole and larger, else float64.
func (p *parser[T]) number() (any, bool) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	digits := p.digits()
	if digits == 0 || (digits > 1 && p.data[p.pos-digits] == '0') {
		return nil, false // no digits, or a leading zero
	}
	whole := true
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		whole = false
		p.pos++
		if p.digits() == 0 {
			return nil, false
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		whole = false
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return nil, false
		}
	}
	text := string(p.data[start:p.pos])
	if whole {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i), true
		}
		if b, ok := new(big.Int).SetString(text, 10); ok {
			return b, true
		}
	}
	f, _ := strconv.ParseFloat(text, 64) //nolint:errcheck // a valid number; out of range gives ±Inf, as json.Number does
	return f, true
}

func (p *parser[T]) digits() int {
	n := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

// AppendJSON appends v, a fold value (what Decode and Fold give), as
// json.Marshal writes it: object keys sorted, strings escaped alike. A
// value of another type is left to json.Marshal.
func AppendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float64:
		return appendFloat(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = AppendJSON(b, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case *encodedObject:
		return append(b, x.json...), nil
	case map[string]any:
		var buf [16]string // most objects have a few keys: sorted on the stack
		keys := buf[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = AppendJSON(b, x[k]); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	default:
		m, err := json.Marshal(v)
		if err != nil {
			return b, err
		}
		return append(b, m...), nil
	}
}

// appendString writes a string as encoding/json does. Plain ones are
// copied; the others are left to encoding/json, whose escapes (of <, >, &,
// invalid UTF-8, U+2028) they keep.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return capture.AppendValue(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat writes a float64 as encoding/json does.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		_, err := json.Marshal(f) // its UnsupportedValueError
		return b, err
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
