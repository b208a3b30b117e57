// Package lograte keeps a warning that repeats, such as a server that
// cannot be reached being measured four times a second, to one line per
// interval, and says on that line how many were held back.
package lograte

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limiter lets one message per key through per interval. It is safe for
// concurrent use.
type Limiter struct {
	every time.Duration

	mu   sync.Mutex
	keys map[string]*entry
}

type entry struct {
	last time.Time
	held int
}

// New returns a Limiter that lets one message per key through every
// interval.
func New(every time.Duration) *Limiter {
	return &Limiter{every: every, keys: map[string]*entry{}}
}

// Allow reports whether a message for key may go out at now and, when it
// may, how many were held back since the last one that did.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil {
		e = &entry{}
		l.keys[key] = e
	} else if now.Sub(e.last) < l.every {
		e.held++
		return false, 0
	}
	suppressed = e.held
	e.last, e.held = now, 0
	return true, suppressed
}

// Reset forgets key, so that its next message goes out at once: the
// condition it reported has ended.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}

// Log logs msg at level unless a message for key went out within the
// interval. A line that follows held-back ones carries "suppressed", their
// count.
func (l *Limiter) Log(log *slog.Logger, level slog.Level, key, msg string, args ...any) {
	ok, suppressed := l.Allow(key, time.Now())
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	log.Log(context.Background(), level, msg, args...)
}
