package state

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

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
	fs := &FullDisk{FS: vfs.Default}
	store, err := open(t.TempDir(), nil, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Err(); err != nil {
		t.Fatalf("with room to spare: %v", err)
	}
	fs.LowSpace.Store(true)
	deadline := time.Now().Add(time.Minute)
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
