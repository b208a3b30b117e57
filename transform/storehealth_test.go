package transform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
)

// fullDisk is the operating system's file system with a switch that makes
// new table files fail as on a full disk: the storage engine's log keeps
// its preallocated space, so on a real full disk it is the flushes and
// compactions that fail first.
type fullDisk struct {
	vfs.FS
	full     atomic.Bool
	lowSpace atomic.Bool // free space reported as 1 MiB
}

func (f *fullDisk) GetDiskUsage(path string) (vfs.DiskUsage, error) {
	usage, err := f.FS.GetDiskUsage(path)
	if f.lowSpace.Load() {
		usage.AvailBytes = 1 << 20
	}
	return usage, err
}

func (f *fullDisk) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if f.full.Load() && strings.HasSuffix(name, ".sst") {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOSPC}
	}
	return f.FS.Create(name, category)
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFullStateDisk: when the state store cannot write its files, the
// engine stops with one clear error instead of stalling behind retried
// flushes, confirms nothing it applied after, and the retries do not
// flood the log.
func TestFullStateDisk(t *testing.T) {
	fs := &fullDisk{FS: vfs.Default}
	var logged lockedBuffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	store, err := openStore(dir, log, fs)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, store: store, index: newMemoryIndex(), in: make(chan *capture.Transaction), done: make(chan error, 1),
		confirmed: map[string]capture.LSN{}, lsn: 100}
	h.engine, err = NewEngine(store, []*View{orderHistory()}, h.index, h.confirm, Options{}, NewMetrics(prometheus.NewRegistry()), log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { h.done <- h.engine.Run(ctx, h.in) }()

	before := h.txn("orders", ins("orders", capture.Row{"id": int64(1), "status": "new", "consumer_id": int64(1)}))
	h.sync("orders", before)
	if err := store.Err(); err != nil {
		t.Fatalf("healthy store reports %v", err)
	}

	fs.full.Store(true)
	if _, err := store.db.AsyncFlush(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-store.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("the store did not notice that it cannot write its files")
	}
	time.Sleep(300 * time.Millisecond) // the storage engine retries the flush meanwhile, as fast as it can

	var runErr error
	select {
	case runErr = <-h.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the engine keeps running on a store that cannot write")
	}
	if !errors.Is(runErr, syscall.ENOSPC) || !strings.Contains(runErr.Error(), "state.dir") {
		t.Errorf("engine stopped with %v; want the full disk, and what to do about state.dir", runErr)
	}
	// Nothing more may be confirmed: a group offered now is refused.
	select {
	case h.in <- &capture.Transaction{Source: "orders", XID: 1, CommitLSN: before + 10, EndLSN: before + 10,
		CommitTime: time.Now()}:
		t.Error("the stopped engine took another transaction")
	case <-time.After(100 * time.Millisecond):
	}
	h.mu.Lock()
	confirmed := h.confirmed["orders"]
	h.mu.Unlock()
	if confirmed != before {
		t.Errorf("confirmed %s after the failure, want %s", confirmed, before)
	}

	out := logged.String()
	if n := strings.Count(out, "level=ERROR"); n > 3 {
		t.Errorf("%d error lines while the flush was retried, want one for the failure and at most one per kind of retry:\n%s", n, out)
	}
	if !strings.Contains(out, "state store cannot write; stopping") {
		t.Errorf("the failure is not logged:\n%s", out)
	}
	fs.full.Store(false)
	if err := store.Close(); err != nil {
		t.Logf("close after the failure: %v", err)
	}
}

func TestLocalIOError(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&os.PathError{Op: "write", Path: "000123.sst", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("flush: %w", &os.PathError{Op: "sync", Path: "MANIFEST", Err: syscall.EIO}), true},
		{syscall.EDQUOT, true},
		{syscall.EROFS, true},
		{errors.New("pebble: closed"), false},
		{&os.PathError{Op: "statfs", Path: "x", Err: syscall.EINTR}, false},
	}
	for _, tt := range tests {
		if got := localIOError(tt.err); got != tt.want {
			t.Errorf("localIOError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestStoreSpaceReserve: the store fails before its file system is full,
// while the storage engine can still stop cleanly.
func TestStoreSpaceReserve(t *testing.T) {
	fs := &fullDisk{FS: vfs.Default}
	store, err := openStore(t.TempDir(), nil, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Err(); err != nil {
		t.Fatalf("with room to spare: %v", err)
	}
	fs.lowSpace.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for store.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("1 MiB free is not reported as a failure")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := store.Err(); !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "1 MiB free, below the 32 MiB") {
		t.Errorf("Err() = %v; want the free space, the reserve and ENOSPC", err)
	}
	select {
	case <-store.Failed():
	default:
		t.Error("Failed() is not closed along with Err()")
	}
}
