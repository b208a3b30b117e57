package bench

import (
	"math"
	"testing"
)

func TestHistogramInterpolate(t *testing.T) {
	h := histogram{bounds: []float64{0.05, 0.1, 0.2}, cumulative: []uint64{0, 50, 100}, count: 100}
	tests := []struct {
		name string
		h    histogram
		q    float64
		want float64
	}{
		{"middle of a bucket", h, 0.25, 0.075},
		{"top of a bucket", h, 0.5, 0.1},
		{"next bucket", h, 0.75, 0.15},
		{"first bucket starts at zero", histogram{bounds: []float64{0.1}, cumulative: []uint64{10}, count: 10}, 0.5, 0.05},
		{"beyond the last bound", histogram{bounds: []float64{0.1}, cumulative: []uint64{0}, count: 10}, 0.5, 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.interpolate(tt.q); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("interpolate(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	if got := (histogram{}).interpolate(0.5); !math.IsNaN(got) {
		t.Errorf("interpolate of nothing observed = %v, want NaN", got)
	}
}

func TestLagQuantile(t *testing.T) {
	tests := []struct {
		name    string
		samples []float64
		q       float64
		want    float64
	}{
		{"median of an odd count", []float64{0.3, 0.1, 0.2}, 0.5, 0.2},
		{"median of an even count is the lower", []float64{0.4, 0.1, 0.3, 0.2}, 0.5, 0.2},
		{"p99 of a hundred is the 99th", hundred(), 0.99, 0.99},
		{"p100 is the highest", []float64{0.2, 0.1}, 1, 0.2},
		{"one sample", []float64{0.5}, 0.99, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lagQuantile(tt.samples, tt.q); got != tt.want {
				t.Errorf("lagQuantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
	if got := lagQuantile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("lagQuantile of no samples = %v, want NaN", got)
	}
}

// hundred is 0.01, 0.02, ..., 1.00 in reverse order.
func hundred() []float64 {
	s := make([]float64, 100)
	for i := range s {
		s[i] = float64(100-i) / 100
	}
	return s
}

func TestLeanRatioVerdict(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		r    leanRatio
		want string
	}{
		{"all at most pgstream's", leanRatio{cpu: 0.8, rss: 1, lagP50: 0.5}, "**met** (CPU 0.80, peak RSS 1.00, lag p50 0.50)"},
		{"CPU above", leanRatio{cpu: 1.37, rss: 0.7, lagP50: 0.5}, "**not met** (CPU 1.37)"},
		{"two above", leanRatio{cpu: 1.1, rss: 0.7, lagP50: 2}, "**not met** (CPU 1.10, lag p50 2.00)"},
		{"lag not measured", leanRatio{cpu: 0.5, rss: 0.7, lagP50: nan}, "**not met** (lag p50 not measured)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.verdict(); got != tt.want {
				t.Errorf("verdict = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMedianRatios(t *testing.T) {
	nan := math.NaN()
	r := func(cpu, rss, lag float64) leanRatio { return leanRatio{cpu: cpu, rss: rss, lagP50: lag, lagP99: lag} }
	tests := []struct {
		name   string
		names  []string
		ratios []leanRatio
		want   []leanMedian
	}{
		{"one load", []string{"50"}, []leanRatio{r(1.2, 0.7, 0.9)},
			[]leanMedian{{name: "50", each: []leanRatio{r(1.2, 0.7, 0.9)}, median: r(1.2, 0.7, 0.9)}}},
		{"odd count takes the middle", []string{"50", "50", "50"}, []leanRatio{r(1.27, 0.7, 0.9), r(1.0, 0.8, 0.8), r(1.18, 0.75, 1.1)},
			[]leanMedian{{name: "50", each: []leanRatio{r(1.27, 0.7, 0.9), r(1.0, 0.8, 0.8), r(1.18, 0.75, 1.1)}, median: r(1.18, 0.75, 0.9)}}},
		{"even count takes the mean of the middle two", []string{"50", "50"}, []leanRatio{r(1.2, 0.7, 0.8), r(0.9, 0.8, 1.0)},
			[]leanMedian{{name: "50", each: []leanRatio{r(1.2, 0.7, 0.8), r(0.9, 0.8, 1.0)}, median: r(1.05, 0.75, 0.9)}}},
		{"rates apart, in first-seen order", []string{"50", "500", "50", "500"}, []leanRatio{r(1, 1, 1), r(2, 2, 2), r(3, 3, 3), r(4, 4, 4)},
			[]leanMedian{
				{name: "50", each: []leanRatio{r(1, 1, 1), r(3, 3, 3)}, median: r(2, 2, 2)},
				{name: "500", each: []leanRatio{r(2, 2, 2), r(4, 4, 4)}, median: r(3, 3, 3)},
			}},
		{"a ratio not measured is left out", []string{"50", "50", "50"}, []leanRatio{r(1, 1, nan), r(2, 2, 0.5), r(3, 3, 0.7)},
			[]leanMedian{{name: "50", each: []leanRatio{r(1, 1, nan), r(2, 2, 0.5), r(3, 3, 0.7)}, median: r(2, 2, 0.6)}}},
		{"never measured is NaN", []string{"50"}, []leanRatio{r(1, 1, nan)},
			[]leanMedian{{name: "50", each: []leanRatio{r(1, 1, nan)}, median: r(1, 1, nan)}}},
	}
	same := func(a, b float64) bool { return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) < 1e-9 }
	sameRatio := func(a, b leanRatio) bool {
		return same(a.cpu, b.cpu) && same(a.rss, b.rss) && same(a.lagP50, b.lagP50) && same(a.lagP99, b.lagP99)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := medianRatios(tt.names, tt.ratios)
			if len(got) != len(tt.want) {
				t.Fatalf("medianRatios = %+v, want %+v", got, tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.name != w.name || len(g.each) != len(w.each) || !sameRatio(g.median, w.median) {
					t.Errorf("group %d = %+v, want %+v", i, g, w)
					continue
				}
				for j := range w.each {
					if !sameRatio(g.each[j], w.each[j]) {
						t.Errorf("group %d load %d = %+v, want %+v", i, j, g.each[j], w.each[j])
					}
				}
			}
		})
	}
}

func TestLeanMedianVerdict(t *testing.T) {
	// Two loads of one rate, one over and one under: the verdict follows
	// the median, not the last load.
	m := medianRatios([]string{"50 inserts/s", "50 inserts/s", "50 inserts/s"},
		[]leanRatio{{cpu: 1.27, rss: 0.75, lagP50: 0.9}, {cpu: 0.9, rss: 0.8, lagP50: 0.8}, {cpu: 0.95, rss: 0.7, lagP50: 0.98}})
	if len(m) != 1 {
		t.Fatalf("groups = %d, want 1", len(m))
	}
	if got, want := m[0].median.verdict(), "**met** (CPU 0.95, peak RSS 0.75, lag p50 0.90)"; got != want {
		t.Errorf("verdict = %q, want %q", got, want)
	}
	if got, want := m[0].loads(), "3 loads (CPU 1.27, 0.90, 0.95)"; got != want {
		t.Errorf("loads = %q, want %q", got, want)
	}
}
