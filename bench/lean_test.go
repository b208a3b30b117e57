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
