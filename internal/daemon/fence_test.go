package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/testbed"
)

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestFencesAcrossServerRestarts holds a source's fence while its server
// restarts: the lock is taken again when nobody else took it, and lost,
// with the process told to stop, when another session took it first.
func TestFencesAcrossServerRestarts(t *testing.T) {
	server := testbed.NewPrivateServer(t)
	db := server.NewDatabase()
	src := capture.Source{Name: "menu", DSN: db.DSN(), Slot: "fenced"}
	out := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(out, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	f, err := takeFences(ctx, []capture.Source{src}, fenceOptions{log: log})
	if err != nil {
		t.Fatalf("take fences: %v", err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer func() {
		stopWatch()
		f.release()
	}()
	f.watch(watchCtx, log)

	// Nobody else wants the lock: it is taken again.
	server.Restart()
	deadline := time.Now().Add(3*fenceEvery + 10*time.Second)
	for !strings.Contains(out.String(), "took the lock of the source again") {
		if time.Now().After(deadline) {
			t.Fatalf("the lock was not taken again after the restart:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := f.guard(); err != nil {
		t.Errorf("guard after taking the lock again: %v", err)
	}
	if _, err := capture.TryFence(ctx, src); !errors.Is(err, capture.ErrFenced) {
		t.Errorf("another session took the lock this process holds: %v", err)
	}

	// Another session takes the lock first: the fence is lost. Who is
	// first after a restart is a race: the watcher retakes the lock at its
	// next check, which may come before the other session has connected.
	// Then the restart is tried again, so that the case under test, the
	// other session first, is the one that happens.
	const retaken = "took the lock of the source again"
	var thief *capture.Fence
	for restarts := 0; thief == nil; restarts++ {
		if restarts == 5 {
			t.Fatalf("this process took the lock again before another session could, after %d restarts:\n%s", restarts, out)
		}
		before := strings.Count(out.String(), retaken)
		server.Restart()
		deadline = time.Now().Add(2 * fenceEvery)
		for thief == nil && time.Now().Before(deadline) && strings.Count(out.String(), retaken) == before {
			thief, _ = capture.TryFence(ctx, src)
			time.Sleep(20 * time.Millisecond)
		}
	}
	defer thief.Close()
	select {
	case <-f.lost.Done():
	case <-time.After(3 * fenceEvery):
		t.Fatal("the process did not notice that another took its lock")
	}
	if err := f.err(); !errors.Is(err, capture.ErrFenced) {
		t.Errorf("lost fence error %v, want ErrFenced", err)
	}
	if err := f.guard(); err == nil {
		t.Error("guard passes after the lock was lost")
	}
}
