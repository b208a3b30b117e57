package capture

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// settleCommits waits, after a low watermark is written, until the
// transactions that were in progress when it committed have left the
// server's process array, at most wait. A committing backend writes its
// commit record to the WAL before other sessions can see its changes, so
// a transaction whose commit precedes the low watermark in the stream (and
// which the window therefore may not count) can still be invisible to a
// SELECT that starts right after; waiting for those transactions makes
// every change committed before the low watermark visible to the chunk's
// SELECT. Transactions that outlast the wait are long-running ones, which
// commit after the watermark and so fall inside the window: long lists
// them so that later chunks do not wait for them again.
func settleCommits(ctx context.Context, conn *pgx.Conn, wait time.Duration, long map[uint64]bool) error {
	// Every transaction with an id holds an exclusive lock on it until after
	// it has left the process array, and pg_locks shows it to every role.
	// A snapshot's xip list would not do: it omits transactions at or past
	// its xmax, which is where one that wrote its commit record just
	// before the watermark's, but has not yet left the array, can be.
	const running = `SELECT coalesce(array_agg(transactionid::text::bigint), '{}') FROM pg_locks
		WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted`
	var first []int64
	if err := conn.QueryRow(ctx, running).Scan(&first); err != nil {
		return fmt.Errorf("read transactions in progress: %w", err)
	}
	// A long-running transaction no longer in progress has ended: forget
	// it, so that the set holds only the transactions still open and does
	// not grow over a copy that lasts days.
	open := make(map[uint64]bool, len(first))
	for _, x := range first {
		open[uint64(x)] = true
	}
	for x := range long {
		if !open[x] {
			delete(long, x)
		}
	}
	pending := map[uint64]bool{}
	for _, x := range first {
		if !long[uint64(x)] {
			pending[uint64(x)] = true
		}
	}
	deadline := time.Now().Add(wait)
	for polls := 0; len(pending) > 0; polls++ {
		if time.Now().After(deadline) {
			for x := range pending {
				long[x] = true
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(settlePause(polls)):
		}
		var now []int64
		if err := conn.QueryRow(ctx, running).Scan(&now); err != nil {
			return fmt.Errorf("read transactions in progress: %w", err)
		}
		still := map[uint64]bool{}
		for _, x := range now {
			if pending[uint64(x)] {
				still[uint64(x)] = true
			}
		}
		pending = still
	}
	return nil
}

// settlePause is the pause before settleCommits reads pg_locks again for
// the polls-th time. Most transactions end within a few milliseconds, so
// the first pauses are short; the pause then doubles up to 32 ms, since
// reading pg_locks takes every lock partition's lock on the server and
// costs both sides CPU: a transaction that runs for most of the wait is
// looked at some 40 times, not 500.
func settlePause(polls int) time.Duration {
	return time.Millisecond << min(polls, 5)
}
