package state

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"strconv"
)

// Key values (a row's primary key, the values of a join index entry) are
// kept in memory as JSON arrays, "[42]" or "[\"eu\",7]". In store keys a
// single integer is written as keyInt and eight big-endian bytes, its sign
// bit flipped, so that the store keeps rows in numeric key order: rows
// copied or inserted in key order then append to the key space instead of
// landing all over it, which spares the store most of its compaction
// work, and reads in key order move forward. Every other value is written
// as keyJSON and its JSON text, which never holds a 0x00 byte: both forms
// are self-delimiting before the 0x00 that ends an index entry's values.
const (
	keyInt  = 0x01
	keyJSON = 0x02
)

// appendKeyValue appends the store form of the key value v to b.
func appendKeyValue(b []byte, v string) []byte {
	if n, ok := keyInteger(v); ok {
		b = append(b, keyInt)
		return binary.BigEndian.AppendUint64(b, uint64(n)^(1<<63))
	}
	return append(append(b, keyJSON), v...)
}

// keyInteger returns the integer of a key value that is one int64 in the
// form encodeKey writes: "[42]" or "[-7]", without a leading zero, a plus
// sign or "-0". It reads v once: it runs for every store key.
func keyInteger(v string) (int64, bool) {
	if len(v) < 3 || v[0] != '[' || v[len(v)-1] != ']' {
		return 0, false
	}
	digits := v[1 : len(v)-1]
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if digits == "" || len(digits) > 19 || (digits[0] == '0' && (len(digits) > 1 || neg)) {
		return 0, false
	}
	var n uint64 // 19 digits fit
	for i := 0; i < len(digits); i++ {
		d := digits[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + uint64(d)
	}
	switch {
	case neg && n <= 1<<63:
		return int64(-n), true // -(1<<63) wraps to math.MinInt64, as it should
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}

// keyValue reads a key value back from its store form.
func keyValue(b []byte) (string, bool) {
	switch {
	case len(b) == 9 && b[0] == keyInt:
		var text [22]byte // room for "[-9223372036854775808]"; the string below is the one allocation
		t := append(text[:0], '[')
		t = strconv.AppendInt(t, int64(binary.BigEndian.Uint64(b[1:])^(1<<63)), 10)
		return string(append(t, ']')), true
	case len(b) > 0 && b[0] == keyJSON:
		return string(b[1:]), true
	}
	return "", false
}

// corruptKey is the error for a store key whose key value cannot be read.
func corruptKey(k []byte) error {
	return corruptState("store key %q holds no key value", k)
}

// KeyInteger returns the integer of a key value stored in integer form:
// one int64 in the form a key is encoded in, "[42]" or "[-7]".
func KeyInteger(v string) (int64, bool) { return keyInteger(v) }

// SortStored puts primary keys in the order the store keeps their rows in
// (the order of their store forms): reads in that order move forward
// through the store. Cheaper than SortKeys, which decodes every key.
func SortStored(pks []string) {
	sortByStoreForm(pks, func(pk string) string { return pk }, nil)
}

// SortRefs puts documents in the store's order of their root rows, view by
// view: a builder's reads then move forward through the store.
func SortRefs(refs []DocRef) {
	sortByStoreForm(refs, func(ref DocRef) string { return ref.ID },
		func(a, b DocRef) int { return cmp.Compare(a.View, b.View) })
}

// sortByStoreForm sorts items by first (when not nil), then by the store
// form of the key pk gives: each key is encoded once, into one buffer,
// rather than once per comparison.
func sortByStoreForm[T any](items []T, pk func(T) string, first func(a, b T) int) {
	if len(items) < 2 {
		return
	}
	type sortable struct {
		item       T
		start, end int // of its store form in forms
	}
	var forms []byte
	s := make([]sortable, len(items))
	for i, item := range items {
		start := len(forms)
		forms = appendKeyValue(forms, pk(item))
		s[i] = sortable{item: item, start: start, end: len(forms)}
	}
	slices.SortFunc(s, func(a, b sortable) int {
		c := 0
		if first != nil {
			c = first(a.item, b.item)
		}
		return cmp.Or(c, bytes.Compare(forms[a.start:a.end], forms[b.start:b.end]))
	})
	for i := range s {
		items[i] = s[i].item
	}
}
