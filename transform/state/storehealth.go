package state

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/projector-dev/projector/internal/lograte"
)

// storeWarnEvery is how often the same storage engine error is logged.
// The engine retries a failed flush at once and without end, which logged
// a thousand lines a second on a full disk.
const storeWarnEvery = 30 * time.Second

// storeHealth records the first failure of the storage engine's
// background writes (flushing memtables, compacting) that retrying cannot
// fix by itself: a full disk or a broken file system. Once memtables fill
// up, every write stalls behind such a failure, so projector stops with it
// instead of hanging while the engine retries.
type storeHealth struct {
	dir   string
	log   *slog.Logger
	limit *lograte.Limiter
	fs    vfs.FS
	// spaceChecked is when free space was last measured, in Unix
	// nanoseconds.
	spaceChecked atomic.Int64

	once   sync.Once
	err    error
	failed chan struct{} // closed with err set
}

func newStoreHealth(dir string, fs vfs.FS, log *slog.Logger) *storeHealth {
	return &storeHealth{dir: dir, fs: fs, log: log, limit: lograte.New(storeWarnEvery), failed: make(chan struct{})}
}

// storeReserve is the free space the state's file system must keep: the
// log of a full memtable and the tables of one flush. Below it projector
// stops before the storage engine runs out of space, since a log write it
// cannot make ends the process with a panic, and a flush it cannot make
// stalls every write.
const storeReserve = 2 * storeMemTableSize

// spaceEvery is how often free space is measured while the store writes.
const spaceEvery = 100 * time.Millisecond

// checkSpace measures the free space of the state's file system, at most
// once per spaceEvery, and fails the store when it is below storeReserve.
func (h *storeHealth) checkSpace(now time.Time) {
	last := h.spaceChecked.Load()
	if now.UnixNano()-last < int64(spaceEvery) || !h.spaceChecked.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	usage, err := h.fs.GetDiskUsage(h.dir)
	if err != nil {
		if !errors.Is(err, vfs.ErrUnsupported) {
			h.limit.Log(h.log, slog.LevelWarn, "usage", "cannot measure the free space of the state directory", "error", err.Error())
		}
		return
	}
	if usage.AvailBytes < storeReserve {
		h.fail(fmt.Errorf("%d MiB free, below the %d MiB the state store keeps in reserve: %w",
			usage.AvailBytes>>20, storeReserve>>20, syscall.ENOSPC))
	}
}

// backgroundError is the storage engine's report of a failed background
// job; it may come from any of its goroutines.
func (h *storeHealth) backgroundError(err error) {
	if !localIOError(err) {
		h.limit.Log(h.log, slog.LevelError, "background", "state store background work failed; it is retried", "error", err.Error())
		return
	}
	h.fail(err)
	h.limit.Log(h.log, slog.LevelDebug, "io", "state store write failed again", "error", err.Error())
}

// observe records err when it is a lasting local I/O failure, and returns
// it unchanged.
func (h *storeHealth) observe(err error) error {
	if err != nil && localIOError(err) {
		h.fail(err)
	}
	return err
}

// fail records the first lasting write failure; later ones add nothing.
func (h *storeHealth) fail(err error) {
	h.once.Do(func() {
		h.err = fmt.Errorf("state store cannot write to %s: %w; free space on (or repair) the file system of state.dir, "+
			"then restart projector: positions not yet durable were not confirmed, so the sources send those changes again", h.dir, err)
		// The text alone: the storage engine's errors format with stack
		// traces otherwise.
		h.log.Error("state store cannot write; stopping", "dir", h.dir, "error", err.Error())
		close(h.failed)
	})
}

// localIOError reports whether err is a file system failure that lasts
// until someone acts: retrying a write into a full or broken file system
// only repeats it.
func localIOError(err error) bool {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// Err is the store's write failure, or nil while it is healthy. Once set,
// it stays: the process must stop and be restarted after the fix.
func (s *Store) Err() error {
	s.health.checkSpace(time.Now())
	select {
	case <-s.health.failed:
		return s.health.err
	default:
		return nil
	}
}

// Failed is closed when Err becomes non-nil.
func (s *Store) Failed() <-chan struct{} { return s.health.failed }

// watchedFS passes the storage engine's file operations through and
// reports each write failure to health the moment it happens. The engine
// itself learns of a failed log write only when it rotates the log, and
// then panics: with the failure recorded first, projector stops before
// committing again.
type watchedFS struct {
	vfs.FS
	health *storeHealth
}

func (w watchedFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := w.FS.Create(name, category)
	return w.file(f, err)
}

func (w watchedFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := w.FS.OpenReadWrite(name, category, opts...)
	return w.file(f, err)
}

func (w watchedFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := w.FS.ReuseForWrite(oldname, newname, category)
	return w.file(f, err)
}

func (w watchedFS) Link(oldname, newname string) error {
	return w.health.observe(w.FS.Link(oldname, newname))
}

func (w watchedFS) Rename(oldname, newname string) error {
	return w.health.observe(w.FS.Rename(oldname, newname))
}

func (w watchedFS) MkdirAll(dir string, perm os.FileMode) error {
	return w.health.observe(w.FS.MkdirAll(dir, perm))
}

func (w watchedFS) file(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, w.health.observe(err)
	}
	return watchedFile{File: f, health: w.health}, nil
}

// watchedFile reports the failures of its writes and syncs. Preallocate is
// left alone: the storage engine asks for more than a small file system
// may hold and carries on when it fails, as the writes tell.
type watchedFile struct {
	vfs.File
	health *storeHealth
}

func (f watchedFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	return n, f.health.observe(err)
}

func (f watchedFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	return n, f.health.observe(err)
}

func (f watchedFile) Sync() error { return f.health.observe(f.File.Sync()) }

func (f watchedFile) SyncData() error { return f.health.observe(f.File.SyncData()) }

func (f watchedFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	return full, f.health.observe(err)
}
