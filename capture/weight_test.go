package capture

import (
	"context"
	"fmt"
	"testing"

	"github.com/projector-dev/projector/internal/testbed"
)

func TestWeights(t *testing.T) {
	cases := []struct {
		name string
		got  int64
		want int64
	}{
		{"an empty transaction weighs its overhead", decoded(0, 0, 0), txnOverhead},
		{"a decoded change weighs its message, a change and its values", decoded(1, 3, 100), txnOverhead + changeOverhead + rowOverhead + 3*valueOverhead + 100},
		{"a long value counts its bytes", decoded(1, 1, 10100), txnOverhead + changeOverhead + rowOverhead + valueOverhead + 10100},
		{"an empty snapshot chunk", copiedWeight(0, 0, 0), 0},
		{"two copied rows of three values", copiedWeight(2, 6, 60), 2*(changeOverhead+rowOverhead) + 6*valueOverhead + 60},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: weighs %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// decoded weighs a transaction of changes whose new rows hold columns
// values each, decoded from wire bytes.
func decoded(changes, columns int, wire int64) int64 {
	txn := &Transaction{Changes: make([]Change, changes)}
	for i := range txn.Changes {
		txn.Changes[i].New = Row{}
		for c := range columns {
			txn.Changes[i].New[fmt.Sprint("c", c)] = c
		}
	}
	weighDecoded(txn, wire)
	return txn.Bytes
}

// TestDecodedWeightMatchesHeap checks the weight of decoded transactions
// against what they really hold: transactions of a typical row (six
// columns, a jsonb among them) are decoded and kept, and the heap's
// growth is compared with the sum of their weights. The memory budget
// bounds what projector holds only as well as the weights match it.
func TestDecodedWeightMatchesHeap(t *testing.T) {
	const txns, rows = 20, 1000
	begin, rel, insert, commit := ordersMessages()
	d := NewDecoder("weights", nil)
	ctx := context.Background()
	for _, m := range [][]byte{begin, rel} {
		if _, err := d.Decode(ctx, 0, m); err != nil {
			t.Fatal(err)
		}
	}
	weight := int64(0)
	heap := testbed.HeapGrowth(func() any {
		kept := make([]*Transaction, 0, txns)
		for i := range txns {
			wire := int64(len(commit))
			if i > 0 { // the first began above
				if _, err := d.Decode(ctx, 0, begin); err != nil {
					t.Fatal(err)
				}
				wire += int64(len(begin))
			}
			for j := range rows {
				ins := insert(1000000 + j)
				if _, err := d.Decode(ctx, 0, ins); err != nil {
					t.Fatal(err)
				}
				wire += int64(len(ins))
			}
			txn, err := d.Decode(ctx, 0, commit)
			if err != nil || txn == nil {
				t.Fatalf("commit: %v, %v", txn, err)
			}
			weighDecoded(txn, wire)
			weight += txn.Bytes
			kept = append(kept, txn)
		}
		return kept
	})
	testbed.CheckWeight(t, txns*rows, heap, weight)
}
