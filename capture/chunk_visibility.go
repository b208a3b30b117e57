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
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			for x := range pending {
				long[x] = true
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
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
