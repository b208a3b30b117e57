package capture

// A transaction's memory weight (Transaction.Bytes) is estimated once,
// where capture makes it, from what is at hand there without another
// pass over its values: the bytes of the pgoutput messages it was decoded
// from and the number of values its rows hold, or the text of the values
// a snapshot chunk was read from. TestDecodedWeightMatchesHeap checks the
// estimate against the heap: a decoded value costs a map slot, its boxed
// value and its bytes (a jsonb or text value is copied out of the
// message), so a row of six short columns holds several times its wire
// size, which a factor on the wire bytes alone undercounted by a third.
const (
	txnOverhead    = 160 // the Transaction struct and its slices
	changeOverhead = 96  // a Change
	rowOverhead    = 48  // a Row's map header
	valueOverhead  = 64  // a map slot (with its share of empty ones, key and interface headers) and the boxed value
)

// weighDecoded sets the weight of txn, decoded from wire bytes of
// pgoutput messages (or of its JSON form).
func weighDecoded(txn *Transaction, wire int64) {
	values := 0
	for i := range txn.Changes {
		values += len(txn.Changes[i].Old) + len(txn.Changes[i].New)
	}
	txn.Bytes = txnOverhead + int64(len(txn.Changes))*(changeOverhead+rowOverhead) + int64(values)*valueOverhead + wire
}

// copiedWeight is the weight of a snapshot chunk of rows holding values
// column values whose text takes text bytes, beyond the transaction's own
// overhead.
func copiedWeight(rows, values int, text int64) int64 {
	return int64(rows)*(changeOverhead+rowOverhead) + int64(values)*valueOverhead + text
}
