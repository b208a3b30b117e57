package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func sqlState(code string) error {
	return fmt.Errorf("connect to source %q: %w", "shop", &pgconn.PgError{Severity: "FATAL", Code: code, Message: "msg " + code})
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		want   ErrorClass
		reason string
	}{
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, Transient, "other"},
		{"connection reset", fmt.Errorf("receive: %w", syscall.ECONNRESET), Transient, "other"},
		{"unexpected EOF", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), Transient, "other"},
		{"connect timeout", fmt.Errorf("connect: %w", context.DeadlineExceeded), Transient, "other"},
		{"silent server", fmt.Errorf("%w: no message in 1m", errServerSilent), Transient, "other"},
		{"admin shutdown", sqlState("57P01"), Transient, "other"},
		{"cannot connect now", sqlState("57P03"), Transient, "other"},
		{"too many connections", sqlState("53300"), Transient, "other"},
		{"serialization failure", sqlState("40001"), Transient, "other"},
		{"deadlock", sqlState("40P01"), Transient, "other"},
		{"slot in use", sqlState("55006"), Bounded, "prerequisite"},
		{"no free slot", sqlState("53400"), Bounded, "other"},
		{"internal error", sqlState("XX000"), Bounded, "other"},
		{"unknown host", &net.DNSError{Err: "no such host", Name: "db.example", IsNotFound: true}, Bounded, "other"},
		{"something else", errors.New("replication stream ended by the server"), Bounded, "other"},
		{"bad password", sqlState("28P01"), Permanent, "authentication"},
		{"no pg_hba entry", sqlState("28000"), Permanent, "authentication"},
		{"no database", sqlState("3D000"), Permanent, "missing_object"},
		{"insufficient privilege", sqlState("42501"), Permanent, "privilege"},
		{"missing table", sqlState("42P01"), Permanent, "missing_object"},
		{"undefined object", sqlState("42704"), Permanent, "missing_object"},
		{"FOR ALL TABLES publication", sqlState("55000"), Permanent, "prerequisite"},
		{"marked permanent", permanent(errors.New("bad DSN")), Permanent, "other"},
		{"prerequisites", permanent(prerequisitesFailed{errors.New("wal_level")}), Permanent, "prerequisite"},
		{"slot lost", permanent(fmt.Errorf("%w: gone", ErrSlotLost)), Permanent, "slot_lost"},
		{"cancelled", context.Canceled, Permanent, "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
			}
			if got := FailureReason(tc.err); got != tc.reason {
				t.Errorf("FailureReason(%v) = %s, want %s", tc.err, got, tc.reason)
			}
		})
	}
}

func TestRetrierStopsBoundedErrors(t *testing.T) {
	r := Retrier{MaxBackoff: 4 * time.Second}
	for i := 1; i < MaxBoundedTries; i++ {
		wait, err := r.Next(sqlState("XX000"))
		if err != nil {
			t.Fatalf("try %d: gave up early: %v", i, err)
		}
		if wait > 4*time.Second {
			t.Errorf("try %d: wait %s over MaxBackoff", i, wait)
		}
	}
	_, err := r.Next(sqlState("XX000"))
	if err == nil || Classify(err) != Permanent || FailureReason(err) != "retries_exhausted" ||
		!strings.Contains(err.Error(), fmt.Sprintf("gave up after %d tries", MaxBoundedTries)) {
		t.Fatalf("after %d tries: %v (%s), want a permanent error saying it gave up", MaxBoundedTries, err, FailureReason(err))
	}
	r.Reset()
	if _, err := r.Next(sqlState("XX000")); err != nil {
		t.Errorf("after Reset: %v", err)
	}
}

func TestRetrierNeverStopsTransientErrors(t *testing.T) {
	r := Retrier{MaxBackoff: time.Second}
	for i := range 100 {
		if _, err := r.Next(sqlState("57P03")); err != nil {
			t.Fatalf("try %d: %v", i, err)
		}
	}
}

func TestRetrierStopsPermanentErrorsAtOnce(t *testing.T) {
	var r Retrier
	_, err := r.Next(sqlState("28P01"))
	if err == nil || !strings.Contains(err.Error(), "msg 28P01") {
		t.Fatalf("bad password: %v, want it returned at once", err)
	}
}

func TestRetrierWaitsForASlotInUse(t *testing.T) {
	var r Retrier
	for i := range 2 * MaxBoundedTries {
		if _, err := r.Next(sqlState("55006")); err != nil {
			t.Fatalf("try %d: gave up on a slot in use before %s: %v", i, SlotInUseFor, err)
		}
	}
	r.first = time.Now().Add(-SlotInUseFor)
	_, err := r.Next(sqlState("55006"))
	if err == nil || !strings.Contains(err.Error(), "another connection streams from the slot") {
		t.Fatalf("after %s: %v", SlotInUseFor, err)
	}
}
