package state

import (
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// OpenOn is Open on the file system fs, for tests that break it.
func OpenOn(dir string, log *slog.Logger, fs vfs.FS) (*Store, error) { return open(dir, log, fs) }

// Flush starts writing the memtable to table files, as the storage engine
// does when it fills up.
func (s *Store) Flush() error {
	_, err := s.db.AsyncFlush()
	return err
}

// FullDisk is the operating system's file system with a switch that makes
// new table files fail as on a full disk: the storage engine's log keeps
// its preallocated space, so on a real full disk it is the flushes and
// compactions that fail first.
type FullDisk struct {
	vfs.FS
	Full     atomic.Bool
	LowSpace atomic.Bool // free space reported as 1 MiB
}

// GetDiskUsage reports the free space as 1 MiB while LowSpace is set.
func (f *FullDisk) GetDiskUsage(path string) (vfs.DiskUsage, error) {
	usage, err := f.FS.GetDiskUsage(path)
	if f.LowSpace.Load() {
		usage.AvailBytes = 1 << 20
	}
	return usage, err
}

// Create fails for table files while Full is set.
func (f *FullDisk) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if f.Full.Load() && strings.HasSuffix(name, ".sst") {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOSPC}
	}
	return f.FS.Create(name, category)
}
