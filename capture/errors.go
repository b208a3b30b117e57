package capture

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
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

// ErrorClass says what retrying can do about an error.
type ErrorClass int

const (
	// Transient errors heal by themselves: a connection lost or refused,
	// a server shutting down, starting or out of connections, a
	// serialization failure. They are retried with backoff for as long
	// as it takes.
	Transient ErrorClass = iota
	// Bounded errors may heal or may not: a replication slot another
	// connection still holds, an internal server error, an error of no
	// known kind. They are retried a bounded number of times.
	Bounded
	// Permanent errors need someone to change something: a wrong
	// password, a missing privilege, table or prerequisite. They are not
	// retried.
	Permanent
)

func (c ErrorClass) String() string {
	switch c {
	case Transient:
		return "transient"
	case Bounded:
		return "bounded"
	}
	return "permanent"
}

// Classify is the one place that decides whether an error from a source
// is worth retrying; capture's reconnect loop and the daemon's start-up
// both ask it. A lost slot and a source fenced by another projector are
// permanent: retrying cannot change either.
func Classify(err error) ErrorClass {
	if err == nil {
		return Transient
	}
	var perm permanentError
	if errors.As(err, &perm) || errors.Is(err, context.Canceled) || errors.Is(err, ErrSlotLost) ||
		errors.Is(err, ErrFenced) {
		return Permanent
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return classifySQLState(pgErr.Code)
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return Bounded // a typo in the host name, or a name not yet published
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostname):
		return Permanent
	case isConnectionError(err):
		return Transient
	}
	return Bounded
}

// errServerSilent ends a replication connection on which the server said
// nothing for capture.receive_timeout: a network that drops packets, which
// heals like any other connection loss.
var errServerSilent = errors.New("replication connection silent")

func isConnectionError(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, errServerSilent) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// classifySQLState classifies a server error by its SQLSTATE
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
func classifySQLState(code string) ErrorClass {
	switch code {
	case "40001", "40P01", // serialization failure, deadlock
		"55P03": // lock not available
		return Transient
	case "55006", // object in use: a replication slot another connection holds
		"53400": // configuration limit exceeded: every replication slot taken
		return Bounded
	}
	if len(code) < 2 {
		return Bounded
	}
	switch code[:2] {
	case "08", // connection exception
		"53", // insufficient resources: too many connections, out of memory
		"57": // operator intervention: admin shutdown, crash shutdown, cannot connect now, query cancelled
		return Transient
	case "28", // invalid authorization: bad password, no pg_hba.conf entry
		"3D", "3F", // no such database, no such schema
		"42", // insufficient privilege, undefined table or object, syntax
		"55", // object not in prerequisite state: FOR ALL TABLES, wal_level, invalidated slot
		"0A": // feature not supported
		return Permanent
	}
	return Bounded
}

// FailureReason names why a source stopped for good, for the reason
// label of projector_source_failed: one of FailureReasons.
func FailureReason(err error) string {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, ErrSlotLost):
		return "slot_lost"
	case errors.As(err, new(retriesExhausted)):
		return "retries_exhausted"
	case errors.As(err, new(prerequisitesFailed)):
		return "prerequisite"
	case !errors.As(err, &pgErr):
		return "other"
	case pgErr.Code[:2] == "28":
		return "authentication"
	case pgErr.Code == "42501":
		return "privilege"
	case pgErr.Code == "42P01", pgErr.Code == "42704", pgErr.Code[:2] == "3D", pgErr.Code[:2] == "3F":
		return "missing_object"
	case pgErr.Code[:2] == "55":
		return "prerequisite"
	}
	return "other"
}

// FailureReasons are every value FailureReason returns, so that the
// metric's series can be created at zero.
var FailureReasons = []string{"authentication", "privilege", "missing_object", "prerequisite", "slot_lost", "retries_exhausted", "other"}

// Retry limits: a bounded error is given up after MaxBoundedTries tries in
// a row; a slot held by another connection is waited for up to
// SlotInUseFor, longer than the server's default wal_sender_timeout (60
// s), after which the server ends a walsender whose client vanished.
const (
	MaxBoundedTries = 5
	SlotInUseFor    = 2 * time.Minute
)

// retriesExhausted is a bounded error retried until the limit.
type retriesExhausted struct {
	err   error
	tries int
	since time.Duration
}

func (e retriesExhausted) Error() string {
	return fmt.Sprintf("gave up after %d tries in %s: %v", e.tries, e.since.Round(time.Second), e.err)
}
func (e retriesExhausted) Unwrap() error { return e.err }

// Retrier decides, failure after failure, whether to try again and after
// how long: transient errors always, with exponential backoff up to
// MaxBackoff; bounded ones within their limits; permanent ones never.
type Retrier struct {
	// MaxBackoff caps the wait between tries; 30 s when zero.
	MaxBackoff time.Duration
	// Classify decides each error's class; Classify (the function) when nil.
	Classify func(error) ErrorClass

	backoff time.Duration
	tries   int
	first   time.Time // first bounded failure since the last Reset
}

// Next returns how long to wait before trying again, or, when retrying
// should stop, a permanent error saying why.
func (r *Retrier) Next(err error) (time.Duration, error) {
	now := time.Now()
	classify := r.Classify
	if classify == nil {
		classify = Classify
	}
	switch classify(err) {
	case Permanent:
		return 0, permanent(err)
	case Bounded:
		if r.first.IsZero() {
			r.first = now
		}
		r.tries++
		if isSlotInUse(err) {
			if now.Sub(r.first) >= SlotInUseFor {
				return 0, permanent(retriesExhausted{fmt.Errorf("%w: another connection streams from the slot; stop it, or give this source a slot of its own (sources.<name>.slot)", err),
					r.tries, now.Sub(r.first)})
			}
		} else if r.tries >= MaxBoundedTries {
			return 0, permanent(retriesExhausted{err, r.tries, now.Sub(r.first)})
		}
	}
	limit := r.MaxBackoff
	if limit <= 0 {
		limit = 30 * time.Second
	}
	wait := max(r.backoff, time.Second)
	r.backoff = min(wait*2, limit)
	return jitter(wait), nil
}

// Reset forgets earlier failures, after a success.
func (r *Retrier) Reset() { *r = Retrier{MaxBackoff: r.MaxBackoff, Classify: r.Classify} }

func isSlotInUse(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55006"
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
