package fold

import (
	"maps"
	"slices"
)

// A stored state is decoded for every event folded into it, and most of it
// is the objects of its arrays (an order's items), which the common steps
// only carry over: an append or remove reads one key of each, a set reads
// none. DecodeState keeps those objects encoded; the few places that look
// inside them read what they need, and jq gets the state fully decoded.

// encodedObject is an object of a state's array, as AppendJSON wrote it.
// States hold it by pointer, into the slab the parser keeps.
type encodedObject struct{ json string }

// MarshalJSON writes the object as it was read, so that encoding/json
// encodes a state DecodeState read as AppendJSON does.
func (o encodedObject) MarshalJSON() ([]byte, error) { return []byte(o.json), nil }

// DecodeState decodes a state Fold returned and AppendJSON encoded: like
// Decode, except that the objects in its fields' arrays stay encoded until
// a fold needs their fields. Such a state is only for Fold, Row,
// EncodedRow and AppendJSON, which understand it. Read from a string, the
// state's strings and encoded objects share its memory.
func DecodeState[T text](data T) (map[string]any, error) {
	var keys [16]string
	p := parser[T]{data: data, keys: keys[:0], lazy: true}
	v, ok := p.value(0)
	if p.space(); ok && p.pos == len(p.data) {
		st, _ := v.(map[string]any)
		return st, nil
	}
	v, err := Decode([]byte(data)) // not a state AppendJSON wrote: decoded, or its error
	if err != nil {
		return nil, err
	}
	st, _ := v.(map[string]any)
	return st, nil
}

// skipObject moves past the object at p.pos without decoding it.
func (p *parser[T]) skipObject() bool {
	depth := 0
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case '"':
			if !p.skipString() {
				return false
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				p.pos++
				return true
			}
		}
		p.pos++
	}
	return false
}

// keyIs reads the key at p.pos and reports whether it is name, without
// allocating it unless it has escapes.
func (p *parser[T]) keyIs(name string) (match, ok bool) {
	start := p.pos
	end := indexQuote(p.data[start+1:])
	if end >= 0 && plainKey(p.data[start+1:start+1+end]) {
		p.pos = start + end + 2
		return string(p.data[start+1:start+1+end]) == name, true
	}
	key, ok := p.string()
	return key == name, ok
}

// skipValue moves past the value at p.pos without decoding it.
func (p *parser[T]) skipValue() bool {
	p.space()
	if p.pos >= len(p.data) {
		return false
	}
	switch p.data[p.pos] {
	case '{', '[':
		return p.skipObject()
	case '"':
		return p.skipString()
	}
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return true
		}
		p.pos++
	}
	return true
}

func (p *parser[T]) skipString() bool {
	for p.pos++; p.pos < len(p.data); p.pos++ {
		switch p.data[p.pos] {
		case '\\':
			p.pos++
		case '"':
			p.pos++
			return true
		}
	}
	return false
}

// field reads one field of an encoded object: nil when it has none, as
// a decoded object gives.
func (o encodedObject) field(name string) (any, bool) {
	p, found, ok := o.seek(name)
	if !ok || !found {
		return nil, ok
	}
	return p.value(0)
}

// stringFieldIs reports whether the encoded object's field name is the
// string s, comparing the encoded text instead of decoding it: an append
// or remove by key compares the key of every element, and a decoded
// string is an allocation each. known is false when the text does not
// tell (an escaped or not UTF-8 string, an object that does not parse):
// field and gojqEqual answer then.
func (o encodedObject) stringFieldIs(name, s string) (is, known bool) {
	p, found, ok := o.seek(name)
	if !ok {
		return false, false
	}
	if !found {
		return false, true // nil, as field gives, is not a string
	}
	p.space()
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return false, true // another kind of value is never equal to a string
	}
	raw := p.data[p.pos+1:]
	end := indexQuote(raw)
	if end < 0 || !plainKey(raw[:end]) || !validUTF8(raw[:end]) {
		return false, false
	}
	return raw[:end] == s, true
}

// seek reads the encoded object up to the value of its field name: p is
// then at the value, found is false when the object has no such field,
// and ok is false when the object does not parse.
func (o encodedObject) seek(name string) (p parser[string], found, ok bool) {
	p = parser[string]{data: o.json}
	p.space()
	if p.pos >= len(p.data) || p.data[p.pos] != '{' {
		return p, false, false
	}
	p.pos++
	for {
		p.space()
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			return p, false, true
		}
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return p, false, false
		}
		match, ok := p.keyIs(name)
		if !ok {
			return p, false, false
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return p, false, false
		}
		p.pos++
		if match {
			return p, true, true
		}
		if !p.skipValue() {
			return p, false, false
		}
		p.space()
		if p.pos < len(p.data) && p.data[p.pos] == ',' {
			p.pos++
		}
	}
}

// decoded gives v with every encoded object in it decoded, copying the
// maps and arrays that hold one and no others: what jq must see. changed
// reports whether there was one.
func decoded(v any) (out any, changed bool) {
	switch x := v.(type) {
	case *encodedObject:
		d, err := Decode([]byte(x.json))
		if err != nil {
			return nil, true // not reached: DecodeState checked the state parses
		}
		return d, true
	case map[string]any:
		var m map[string]any
		for k, e := range x {
			if d, ch := decoded(e); ch {
				if m == nil {
					m = maps.Clone(x)
				}
				m[k] = d
			}
		}
		if m == nil {
			return x, false
		}
		return m, true
	case []any:
		var a []any
		for i, e := range x {
			if d, ch := decoded(e); ch {
				if a == nil {
					a = slices.Clone(x)
				}
				a[i] = d
			}
		}
		if a == nil {
			return x, false
		}
		return a, true
	}
	return v, false
}

// decodedState is decoded for a state.
func decodedState(st map[string]any) map[string]any {
	d, _ := decoded(st)
	m, _ := d.(map[string]any)
	return m
}
