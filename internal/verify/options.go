package verify

import (
	"runtime/debug"
	"time"
)

// Options tune a verification run.
type Options struct {
	// Views names the views to check; empty checks all of them.
	Views []string
	// Settle bounds how long mismatches are re-checked before they are
	// reported, so that changes still on their way to the index are not
	// taken for drift. Re-checking ends as soon as the daemon has confirmed,
	// on every source's slot, the WAL position read before the sources were
	// (see checker.settle); Settle only matters while it lags. Zero means 30
	// seconds; a negative value reports at once.
	Settle time.Duration
	// ShowDiffs is how many drifted documents per view are listed, each
	// with its field differences; zero lists every one and a negative value
	// none. The counts are complete whatever the limit.
	ShowDiffs int
	// VersionSlack is how far ahead of this machine's clock a document's
	// _version may be before it is reported as ahead: projector's external
	// versions start from the clock in microseconds and only run ahead of it
	// by the documents written faster than one per microsecond and by about
	// a second per restart. Zero means 24 hours; a negative value turns the
	// check off.
	VersionSlack time.Duration
	// MemoryBudget, when positive, is the heap size the Go collector may
	// let garbage reach while views are checked in pages: their live heap
	// is a page, and collecting at twice that, as by default, costs more
	// CPU than the check. Views read whole keep the collector's settings.
	MemoryBudget int64
	// Progress, when set, is told how many index documents of a view have
	// been read out of how many.
	Progress func(view string, done, total int64)
}

func (o Options) withDefaults() Options {
	if o.Settle == 0 {
		o.Settle = 30 * time.Second
	}
	if o.VersionSlack == 0 {
		o.VersionSlack = DefaultVersionSlack
	}
	return o
}

// DefaultVersionSlack is the VersionSlack used when none is set.
const DefaultVersionSlack = 24 * time.Hour

// versionLimit is the highest _version projector could have written by
// now; zero when the check is off.
func (o Options) versionLimit() int64 {
	if o.VersionSlack < 0 {
		return 0
	}
	return time.Now().Add(o.VersionSlack).UnixMicro()
}

// pollInterval is the longest pause between two looks at the slots, or
// between re-checks when the WAL position cannot be read.
func (o Options) pollInterval() time.Duration {
	return min(max(o.Settle/10, 100*time.Millisecond), time.Second)
}

// DefaultMemoryBudget is the MemoryBudget the verify command sets unless
// GOGC or GOMEMLIMIT tune the collector.
const DefaultMemoryBudget = 128 << 20

// idleCollector leaves the collector idle until the heap reaches budget,
// and returns the function that restores its settings.
func idleCollector(budget int64) func() {
	if budget <= 0 {
		return func() {}
	}
	limit := debug.SetMemoryLimit(budget)
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
