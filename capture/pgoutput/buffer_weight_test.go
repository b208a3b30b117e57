package pgoutput

import (
	"context"
	"runtime"
	"testing"
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
	kept := make([]*Transaction, 0, txns)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	weight := int64(0)
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
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	ratio := float64(heap) / float64(weight)
	t.Logf("%d decoded changes: %d bytes on the heap, weighed %d (%.2f)", txns*rows, heap, weight, ratio)
	if ratio < 0.8 || ratio > 1.25 {
		t.Errorf("decoded changes hold %d bytes on the heap but weigh %d: a ratio of %.2f, want 0.8 to 1.25", heap, weight, ratio)
	}
}
