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

// quantile estimates the q-quantile by linear interpolation inside the
// bucket it falls in, as Prometheus' histogram_quantile does; NaN when
// nothing was observed.
func (h histogram) quantile(q float64) float64 {
	if h.count == 0 {
		return math.NaN()
	}
	rank := q * float64(h.count)
	lower, below := 0.0, uint64(0)
	for i, upper := range h.bounds {
		if float64(h.cumulative[i]) >= rank {
			inBucket := h.cumulative[i] - below
			if inBucket == 0 {
				return upper
			}
			return lower + (upper-lower)*(rank-float64(below))/float64(inBucket)
		}
		lower, below = upper, h.cumulative[i]
	}
	// Beyond the last bound: the last bound is all that is known.
	return lower
}
