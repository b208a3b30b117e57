package transform

import "unicode/utf8"

// entityKey is the stored key of an entity whose key column holds key:
// what encodeKey makes of a row of that one column, without the row.
func entityKey(key any) string {
	var room [64]byte // most keys: the string is the one allocation
	b := append(room[:0], '[')
	if s, ok := key.(string); ok {
		b = appendString(b, s)
	} else {
		b = appendJSON(b, key)
	}
	return string(append(b, ']'))
}

// singleString returns the string a key of one string column holds when
// the key writes it as it is, without escapes: entity keys (aggregate
// ids) and text primary keys. Such a key's document id needs no JSON
// decoding.
func singleString(pk string) (string, bool) {
	if len(pk) < 5 || pk[:2] != `["` || pk[len(pk)-2:] != `"]` {
		return "", false
	}
	s := pk[2 : len(pk)-2]
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.ValidString(s) || len(s) > MaxIDBytes {
		return "", false
	}
	return s, true
}
