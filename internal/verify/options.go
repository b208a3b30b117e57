package verify

import "time"

// Options tune a verification run.
type Options struct {
	// Views names the views to check; empty checks all of them.
	Views []string
	// Settle is how long mismatches are re-checked before they are reported,
	// so that changes still on their way to the index are not taken for
	// drift. Zero means 30 seconds; a negative value reports at once.
	Settle time.Duration
	// ShowDiffs is how many drifted documents per view are listed, each
	// with its field differences; zero lists every one and a negative value
	// none. The counts are complete whatever the limit.
	ShowDiffs int
	// Progress, when set, is told how many index documents of a view have
	// been read out of how many.
	Progress func(view string, done, total int64)
}

func (o Options) withDefaults() Options {
	if o.Settle == 0 {
		o.Settle = 30 * time.Second
	}
	return o
}

// pollInterval is how long the settle period waits between re-checks.
func (o Options) pollInterval() time.Duration {
	return max(o.Settle/10, 200*time.Millisecond)
}
