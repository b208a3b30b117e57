package capture

// A transaction's memory weight (Transaction.Bytes) is estimated once,
// where capture makes it, from what is at hand there without another
// pass over its rows: the bytes of the pgoutput messages it was decoded
// from, or the text of the values a snapshot chunk was read from. Rough,
// but proportionate, which is all the memory budget needs.
const (
	txnOverhead    = 160 // the Transaction struct and its slices
	changeOverhead = 96  // a Change
	rowOverhead    = 48  // a Row's map header
	valueOverhead  = 48  // a map slot (key and interface headers) and the boxed value
	// wireFactor scales a message's bytes to what its decoded rows hold:
	// each value costs a map entry beside the few bytes of its length
	// prefix on the wire.
	wireFactor = 2
)

// weighDecoded sets the weight of txn, decoded from wire bytes of
// pgoutput messages.
func weighDecoded(txn *Transaction, wire int64) {
	txn.Bytes = txnOverhead + int64(len(txn.Changes))*(changeOverhead+rowOverhead) + wireFactor*wire
}

// copiedWeight is the weight of a snapshot chunk of rows holding values
// column values whose text takes text bytes, beyond the transaction's own
// overhead.
func copiedWeight(rows, values int, text int64) int64 {
	return int64(rows)*(changeOverhead+rowOverhead) + int64(values)*valueOverhead + text
}
