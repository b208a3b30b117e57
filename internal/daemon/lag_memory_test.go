package daemon

import (
	runtimemetrics "runtime/metrics"
	"testing"
	"time"
)

// TestMemoryReleaseDecide checks that memory is given back exactly when
// work that grew the heap ends: a copy done, or a burst followed by a
// quiet stream, at most once a minute and only when there is enough to
// give back; never on every measurement while streaming.
func TestMemoryReleaseDecide(t *testing.T) {
	type step struct {
		copying, moved bool
		after          time.Duration // since the previous step
	}
	const s = 2 * time.Second // a measurement interval
	tests := []struct {
		name     string
		retained uint64
		steps    []step
		want     []int // indexes of the steps that release
	}{
		{"start with the snapshot done, quiet", 64 << 20, []step{{false, false, s}, {false, false, s}}, nil},
		{"snapshot, then streaming", 0, []step{{true, false, s}, {true, true, s}, {false, true, s}, {false, true, s}}, []int{2}},
		{"still copying", 64 << 20, []step{{true, true, s}, {true, true, s}}, nil},
		{"two copies", 0, []step{{true, false, s}, {false, false, s}, {true, false, s}, {false, false, s}}, []int{1, 3}},
		{"steady load never releases", 64 << 20, []step{{false, true, time.Minute}, {false, true, time.Minute}, {false, true, time.Minute}}, nil},
		{"burst, then quiet", 64 << 20, []step{{false, true, time.Minute}, {false, true, s}, {false, false, s}, {false, false, s}}, []int{2}},
		{"burst, then quiet, too little to give back", releaseWorth - 1, []step{{false, true, time.Minute}, {false, false, s}}, nil},
		{"bursts within a minute", 64 << 20, []step{{false, true, time.Minute}, {false, false, s}, {false, true, s}, {false, false, s},
			{false, true, time.Minute}, {false, false, s}}, []int{1, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &memoryRelease{retained: func() uint64 { return tt.retained }}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var got []int
			for i, st := range tt.steps {
				now = now.Add(st.after)
				if r.decide(st.copying, st.moved, now) {
					got = append(got, i)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("released at steps %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("released at steps %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestHeapRetainedMetricsExist checks that the runtime measures what
// heapRetained reads: without them it would never release after a burst.
func TestHeapRetainedMetricsExist(t *testing.T) {
	known := map[string]bool{}
	for _, d := range runtimemetrics.All() {
		known[d.Name] = true
	}
	for _, name := range heapRetainedMetrics() {
		if !known[name] {
			t.Errorf("the runtime has no metric %s", name)
		}
	}
}
