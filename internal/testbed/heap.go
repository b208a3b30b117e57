package testbed

import (
	"runtime"
	"testing"
)

// HeapGrowth returns the bytes the heap grew by while keep ran and by what
// it returned, which stays reachable until the second reading: a test
// keeps decoded values this way to compare a memory estimate with what
// they really hold.
func HeapGrowth(keep func() any) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kept := keep()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(kept)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// CheckWeight fails t unless the weight estimated for n values is within
// 0.8 to 1.25 of the heap they hold: the memory budget bounds what
// projector holds only as well as its weights match the heap.
func CheckWeight(t testing.TB, n int, heap, weight int64) {
	t.Helper()
	ratio := float64(heap) / float64(weight)
	t.Logf("%d decoded changes: %d bytes on the heap, weighed %d (%.2f)", n, heap, weight, ratio)
	if ratio < 0.8 || ratio > 1.25 {
		t.Errorf("decoded changes hold %d bytes on the heap but weigh %d: a ratio of %.2f, want 0.8 to 1.25", heap, weight, ratio)
	}
}
