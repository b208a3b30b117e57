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
