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
