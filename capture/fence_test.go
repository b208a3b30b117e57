package capture

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestFenceOneHolder takes a source's fence twice: the second attempt is
// refused with the holder's pid, and succeeds once the first lets go.
func TestFenceOneHolder(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := Source{Name: "menu", DSN: db.DSN(), Slot: db.Name}
	first, err := TryFence(ctx, src)
	if err != nil {
		t.Fatalf("first fence: %v", err)
	}
	if err := first.Check(ctx); err != nil {
		t.Errorf("check a held fence: %v", err)
	}
	var pid int
	if err := first.conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	_, err = TryFence(ctx, src)
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("second fence: %v, want ErrFenced", err)
	}
	if want := "locked by pid " + strconv.Itoa(pid); !strings.Contains(err.Error(), want) {
		t.Errorf("the refusal %q does not say %q", err, want)
	}
	other, err := TryFence(ctx, Source{Name: "other", DSN: db.DSN(), Slot: db.Name + "_other"})
	if err != nil {
		t.Errorf("the fence of another slot: %v", err)
	} else {
		other.Close()
	}
	first.Close()
	second, err := TryFence(ctx, src)
	if err != nil {
		t.Fatalf("fence after the first was released: %v", err)
	}
	second.Close()
}

// TestRetakeFenceEndsOwnStaleSession: after a network that dropped packets,
// the server still counts the old lock session as the holder. Retaking
// with that session's identity ends it and takes the fence; with any
// other identity the holder is another projector, never ended.
func TestRetakeFenceEndsOwnStaleSession(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := Source{Name: "menu", DSN: db.DSN(), Slot: db.Name}
	stale, err := TryFence(ctx, src)
	if err != nil {
		t.Fatalf("first fence: %v", err)
	}
	defer stale.Close()
	session := stale.Session()
	if session.PID == 0 || session.Start.IsZero() {
		t.Fatalf("fence session %+v, want its backend pid and start", session)
	}
	other := FenceSession{PID: session.PID, Start: session.Start.Add(-time.Second)}
	if _, err := RetakeFence(ctx, src, other); !errors.Is(err, ErrFenced) {
		t.Fatalf("retake with another session's identity: %v, want ErrFenced", err)
	}
	if err := stale.Check(ctx); err != nil {
		t.Fatalf("a holder that is not provably this process's own was ended: %v", err)
	}
	fresh, err := RetakeFence(ctx, src, session)
	if err != nil {
		t.Fatalf("retake over the own stale session: %v", err)
	}
	defer fresh.Close()
	if err := stale.Check(ctx); err == nil {
		t.Error("the stale session still lives after the fence was retaken")
	}
}
