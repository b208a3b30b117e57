package capture

import (
	"context"
	"testing"
)

// Delivered transactions are the consumer's: the decoder reuses its own
// slice of changes for the next transaction, never the one it returned.
func TestDecodedTransactionsStayIntact(t *testing.T) {
	begin, rel, insert, commit := ordersMessages()
	d := NewDecoder("shop", nil)
	var txns []*Transaction
	for n, msgs := range [][][]byte{
		{begin, rel, insert(1), insert(2), insert(3), commit},
		{begin, insert(4), commit},
		{begin, insert(5), insert(6), commit},
	} {
		for i, m := range msgs {
			txn, err := d.Decode(context.Background(), LSN(0x100*n+i), m)
			if err != nil {
				t.Fatalf("transaction %d message %d: %v", n, i, err)
			}
			if txn != nil {
				txns = append(txns, txn)
			}
		}
	}
	var ids [][]int64
	for _, txn := range txns {
		if txn.Source != "shop" || txn.CommitLSN != 0x10 || txn.EndLSN != 0x18 {
			t.Fatalf("transaction: %s", dump(txn))
		}
		var got []int64
		for _, c := range txn.Changes {
			if c.Op != Insert || c.Table != (Table{Schema: "public", Name: "orders"}) || c.New["total"] != Numeric("1249.90") {
				t.Fatalf("change: %s", dump(c))
			}
			got = append(got, c.New["id"].(int64))
		}
		ids = append(ids, got)
	}
	mustEqual(t, ids, [][]int64{{1, 2, 3}, {4}, {5, 6}})
}
