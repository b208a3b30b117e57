package pgoutput

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/jackc/pgx/v5/pgtype"
)

// uniqueKeys returns a json value whose objects repeat a key with only the
// last of each: the value jsonb and every JSON reader keep, and the only
// form search engines accept (they refuse a document with a repeated key).
// A value without repeated keys, which is nearly every value, is returned
// as it is; repeated says whether a key was dropped.
func uniqueKeys(raw json.RawMessage) (out json.RawMessage, repeated bool, err error) {
	if !repeatsKey(raw) {
		return raw, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	out, err = appendUnique(nil, dec)
	if err != nil {
		return nil, false, fmt.Errorf("read json value: %w", err)
	}
	return out, true, nil
}

// repeatsKey reports whether any object in raw has a key twice. Invalid
// JSON reports false: PostgreSQL has already validated it.
func repeatsKey(raw []byte) bool {
	if !bytes.Contains(raw, []byte{':'}) {
		return false // no object with a key
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	type level struct {
		object bool
		keys   map[string]struct{}
		key    bool // the next string token is a key
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				if top >= 0 && stack[top].object {
					stack[top].key = true // the object is this key's value
				}
				stack = append(stack, level{object: true, keys: map[string]struct{}{}, key: true})
			case '[':
				if top >= 0 && stack[top].object {
					stack[top].key = true
				}
				stack = append(stack, level{})
			default:
				stack = stack[:top]
			}
			continue
		}
		if top < 0 || !stack[top].object {
			continue
		}
		if stack[top].key {
			k, _ := tok.(string)
			if _, dup := stack[top].keys[k]; dup {
				return true
			}
			stack[top].keys[k] = struct{}{}
			stack[top].key = false
			continue
		}
		stack[top].key = true // a scalar value; a key follows
	}
}

// appendUnique appends the next JSON value from dec, keeping the last of
// each repeated key at the place of its first occurrence.
func appendUnique(b []byte, dec *json.Decoder) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		scalar, err := json.Marshal(tok) // json.Number marshals as its text
		if err != nil {
			return nil, err
		}
		return append(b, scalar...), nil
	}
	switch d {
	case '[':
		b = append(b, '[')
		for i := 0; dec.More(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendUnique(b, dec); err != nil {
				return nil, err
			}
		}
		_, err = dec.Token() // ]
		return append(b, ']'), err
	case '{':
		var keys []string
		values := map[string][]byte{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			v, err := appendUnique(nil, dec)
			if err != nil {
				return nil, err
			}
			if _, seen := values[k]; !seen {
				keys = append(keys, k)
			}
			values[k] = v
		}
		if _, err := dec.Token(); err != nil { // }
			return nil, err
		}
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			quoted, _ := json.Marshal(k) // a string always marshals
			b = append(append(b, quoted...), ':')
			b = append(b, values[k]...)
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// decodeHstore turns an hstore value into a JSON object with the pairs in
// key order; a NULL value is null.
func (c *Values[N]) decodeHstore(format int16, src []byte) (any, error) {
	val, err := pgtype.HstoreCodec{}.DecodeValue(c.pg, 0, format, src)
	if err != nil {
		return nil, fmt.Errorf("decode hstore value: %w", err)
	}
	h, _ := val.(pgtype.Hstore)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		quoted, _ := json.Marshal(k) // strings always marshal
		b = append(append(b, quoted...), ':')
		if v := h[k]; v != nil {
			quoted, _ = json.Marshal(*v)
			b = append(b, quoted...)
		} else {
			b = append(b, "null"...)
		}
	}
	return json.RawMessage(append(b, '}')), nil
}
