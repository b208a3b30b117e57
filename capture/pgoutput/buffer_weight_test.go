package pgoutput

import (
	"context"
	"testing"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestChangeSizeMatchesHeap checks that ChangeSize, the weight memory
// budgets charge for a decoded change, is close to what decoded rows
// really hold on the heap: transactions of a typical row are decoded and
// kept, and the heap's growth is compared with the sum of their weights.
func TestChangeSizeMatchesHeap(t *testing.T) {
	const txns, rows = 20, 1000
	begin, insert, commit, setup := benchMessages()
	d := newDecoder(nil)
	ctx := context.Background()
	for _, m := range setup {
		if _, err := d.Decode(ctx, 0, m); err != nil {
			t.Fatal(err)
		}
	}
	weight := int64(0)
	heap := testbed.HeapGrowth(func() any {
		kept := make([]*Transaction, 0, txns)
		for i := range txns {
			if i > 0 { // setup began the first
				if _, err := d.Decode(ctx, 0, begin); err != nil {
					t.Fatal(err)
				}
			}
			for range rows {
				if _, err := d.Decode(ctx, 0, insert); err != nil {
					t.Fatal(err)
				}
			}
			txn, err := d.Decode(ctx, 0, commit)
			if err != nil || txn == nil {
				t.Fatalf("commit: %v, %v", txn, err)
			}
			for i := range txn.Changes {
				weight += ChangeSize(&txn.Changes[i])
			}
			kept = append(kept, txn)
		}
		return kept
	})
	testbed.CheckWeight(t, txns*rows, heap, weight)
}
