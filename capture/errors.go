package capture

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// permanentError marks an error that reconnecting cannot fix: bad
// configuration, missing prerequisites, a lost slot, undecodable data.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// isTransient is the one place that decides whether capture retries: every
// error is retried (connections drop, servers restart, failovers happen)
// unless it is marked permanent or is a server error no retry can fix.
func isTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var perm permanentError
	if errors.As(err, &perm) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "28", "3D", "42": // auth failure, unknown database, bad name or privilege
			return false
		}
	}
	return true
}

// classifyStartError turns the server's refusal to stream from an
// invalidated slot into ErrSlotLost.
func classifyStartError(slot string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55000" {
		return permanent(fmt.Errorf("%w: the server refuses to stream slot %q (%s); re-bootstrap the source to take a new snapshot",
			ErrSlotLost, slot, pgErr.Message))
	}
	return fmt.Errorf("start replication on slot %q: %w", slot, err)
}

// jitter spreads reconnects of many sources over time.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// decodeError keeps a decoding failure fatal unless it came from the
// catalog lookup's connection, which a reconnect fixes.
func decodeError(err error) error {
	var pgErr *pgconn.PgError
	var netErr net.Error
	if errors.As(err, &netErr) || (errors.As(err, &pgErr) && pgErr.Code[:2] == "57") || pgconn.SafeToRetry(err) {
		return fmt.Errorf("decode pgoutput message: %w", err)
	}
	return permanent(fmt.Errorf("decode pgoutput message: %w", err))
}
