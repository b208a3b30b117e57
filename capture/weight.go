package capture

import (
	"encoding/json"
	"time"
)

// What a transaction holds in memory beyond its values' own bytes: the
// structs, slice and map headers, and a map entry per column. Rough, but
// proportionate, which is all the memory budget needs.
const (
	txnOverhead    = 160
	changeOverhead = 96
	rowOverhead    = 48
	valueOverhead  = 32 // a map entry: key header and interface
)

// weigh estimates the bytes txn holds in memory and records them in
// txn.Bytes, once, where capture hands the transaction on; every memory
// budget downstream charges this weight. It is never 0.
func weigh(txn *Transaction) {
	n := int64(txnOverhead)
	for i := range txn.Changes {
		c := &txn.Changes[i]
		n += changeOverhead + rowBytes(c.Old) + rowBytes(c.New)
	}
	for i := range txn.Messages {
		m := &txn.Messages[i]
		n += changeOverhead + int64(len(m.Prefix)+len(m.Content))
	}
	txn.Bytes = n
}

func rowBytes(r Row) int64 {
	if r == nil {
		return 0
	}
	n := int64(rowOverhead)
	for k, v := range r {
		n += valueOverhead + int64(len(k)) + valueBytes(v)
	}
	return n
}

// valueBytes is what a decoded value holds beyond its interface header.
func valueBytes(v any) int64 {
	switch x := v.(type) {
	case nil, bool:
		return 0
	case string:
		return int64(len(x))
	case Numeric:
		return int64(len(x))
	case []byte:
		return 24 + int64(len(x))
	case json.RawMessage:
		return 24 + int64(len(x))
	case time.Time:
		return 24
	case []any:
		n := int64(24 + 16*len(x))
		for _, e := range x {
			n += valueBytes(e)
		}
		return n
	}
	return 8 // numbers and other scalars
}
