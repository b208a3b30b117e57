package capture

import (
	"context"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// A transaction that outlasts the wait is remembered as long-running, so
// later chunks do not wait for it again, and forgotten once it has ended,
// so the set does not grow over a long copy.
func TestSettleCommitsForgetsEndedLongTransactions(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, other := db.Connect(), db.Connect()
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var xid uint64
	if err := tx.QueryRow(ctx, `SELECT txid_current()`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	long := map[uint64]bool{}
	if err := settleCommits(ctx, conn, 50*time.Millisecond, long); err != nil {
		t.Fatal(err)
	}
	if !long[xid] {
		t.Fatalf("transaction %d, open past the wait, is not remembered as long-running: %v", xid, long)
	}
	start := time.Now()
	if err := settleCommits(ctx, conn, 10*time.Second, long); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("a later chunk waited %s for a transaction known to be long-running", time.Since(start))
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := settleCommits(ctx, conn, 50*time.Millisecond, long); err != nil {
		t.Fatal(err)
	}
	if long[xid] {
		t.Errorf("transaction %d has ended but is still remembered as long-running", xid)
	}
}

func TestSettlePauseBacksOff(t *testing.T) {
	for _, c := range []struct {
		polls int
		want  time.Duration
	}{
		{0, time.Millisecond},
		{1, 2 * time.Millisecond},
		{3, 8 * time.Millisecond},
		{5, 32 * time.Millisecond},
		{6, 32 * time.Millisecond},
		{1000, 32 * time.Millisecond},
	} {
		if got := settlePause(c.polls); got != c.want {
			t.Errorf("settlePause(%d) = %s, want %s", c.polls, got, c.want)
		}
	}
	// The polls a one-second wait makes stay few.
	polls, waited := 0, time.Duration(0)
	for waited < time.Second {
		waited += settlePause(polls)
		polls++
	}
	if polls > 40 {
		t.Errorf("a one-second wait polls %d times", polls)
	}
}
