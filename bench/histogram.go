package bench

import "math"

// histogram is a Prometheus histogram's cumulative buckets.
type histogram struct {
	bounds     []float64
	cumulative []uint64
	count      uint64
}

// since is what was observed between an earlier scrape and this one.
func (h histogram) since(earlier histogram) histogram {
	out := histogram{bounds: h.bounds, cumulative: make([]uint64, len(h.cumulative)), count: h.count - earlier.count}
	for i := range h.cumulative {
		out.cumulative[i] = h.cumulative[i]
		if i < len(earlier.cumulative) {
			out.cumulative[i] -= earlier.cumulative[i]
		}
	}
	return out
}

// quantile returns the bounds of the bucket the q-quantile falls in:
// between lower and upper seconds. ok is false when nothing was observed;
// upper is +Inf beyond the last bound.
func (h histogram) quantile(q float64) (lower, upper float64, ok bool) {
	if h.count == 0 {
		return 0, 0, false
	}
	rank := q * float64(h.count)
	for i, bound := range h.bounds {
		if float64(h.cumulative[i]) >= rank {
			return lower, bound, true
		}
		lower = bound
	}
	return lower, math.Inf(1), true
}
