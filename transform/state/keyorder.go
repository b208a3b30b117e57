package state

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
)

// SortKeys puts encoded primary keys (JSON arrays) in the order of their
// values, as ORDER BY on the key would: the store keeps single integer
// keys in numeric order, but every other key in byte order of its JSON
// form, where ["a",10] sorts before ["a",9].
func SortKeys(pks []string) {
	if len(pks) < 2 {
		return
	}
	if sortIntKeys(pks) {
		return
	}
	decoded := make([]keyOrder, len(pks))
	for i, pk := range pks {
		decoded[i] = keyOrder{pk: pk, parts: decodeKeyParts(pk)}
	}
	slices.SortStableFunc(decoded, func(a, b keyOrder) int { return compareParts(a.parts, b.parts) })
	for i := range decoded {
		pks[i] = decoded[i].pk
	}
}

type keyOrder struct {
	pk    string
	parts []any
}

func decodeKeyParts(pk string) []any {
	dec := json.NewDecoder(bytes.NewReader([]byte(pk)))
	dec.UseNumber()
	var parts []any
	if err := dec.Decode(&parts); err != nil {
		return []any{pk} // not a key this package wrote; order it as text
	}
	return parts
}

// compareParts orders numbers by value, everything else by its text, and
// numbers before text, element by element.
func compareParts(a, b []any) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := comparePart(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func comparePart(a, b any) int {
	na, aNum := a.(json.Number)
	nb, bNum := b.(json.Number)
	switch {
	case aNum && bNum:
		ra, okA := new(big.Rat).SetString(string(na))
		rb, okB := new(big.Rat).SetString(string(nb))
		if okA && okB {
			return ra.Cmp(rb)
		}
		return cmp.Compare(string(na), string(nb))
	case aNum:
		return -1
	case bNum:
		return 1
	}
	sa, _ := json.Marshal(a)
	sb, _ := json.Marshal(b)
	return bytes.Compare(sa, sb)
}

// sortIntKeys sorts keys that are all a single integer column, the common
// case, without decoding them as JSON; it reports false, leaving pks as
// they were, when one is not.
func sortIntKeys(pks []string) bool {
	// Keys found through a join index come in the store's order, which
	// for integer keys is already theirs: one pass tells, allocating
	// nothing, and a document's has_many relation is read that way.
	var prev int64
	for i, pk := range pks {
		n, ok := intKey(pk)
		if !ok {
			return false
		}
		if i > 0 && n < prev {
			return sortIntKeysSlow(pks)
		}
		prev = n
	}
	return true
}

// intKey reads a key of one integer column, as sortIntKeys accepts it.
func intKey(pk string) (int64, bool) {
	if len(pk) < 3 || pk[0] != '[' || pk[len(pk)-1] != ']' {
		return 0, false
	}
	n, err := strconv.ParseInt(pk[1:len(pk)-1], 10, 64)
	return n, err == nil
}

// sortIntKeysSlow is sortIntKeys for keys out of order.
func sortIntKeysSlow(pks []string) bool {
	ints := make([]int64, len(pks))
	for i, pk := range pks {
		n, ok := intKey(pk)
		if !ok {
			return false
		}
		ints[i] = n
	}
	idx := make([]int, len(pks))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ints[a], ints[b]) })
	sorted := make([]string, len(pks))
	for i, j := range idx {
		sorted[i] = pks[j]
	}
	copy(pks, sorted)
	return true
}
