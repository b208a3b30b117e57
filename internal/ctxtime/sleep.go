// Package ctxtime waits in ways a context can cut short.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx ends, whichever comes first; it returns
// ctx.Err() when ctx ended first. Unlike a select on time.After, it stops
// its timer at once when ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
