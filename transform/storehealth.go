package transform

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

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

	once   sync.Once
	err    error
	failed chan struct{} // closed with err set
}

func newStoreHealth(dir string, log *slog.Logger) *storeHealth {
	return &storeHealth{dir: dir, log: log, limit: lograte.New(storeWarnEvery), failed: make(chan struct{})}
}

// backgroundError is the storage engine's report of a failed background
// job; it may come from any of its goroutines.
func (h *storeHealth) backgroundError(err error) {
	if !localIOError(err) {
		h.limit.Log(h.log, slog.LevelError, "background", "state store background work failed; it is retried", "error", err.Error())
		return
	}
	h.once.Do(func() {
		h.err = fmt.Errorf("state store cannot write to %s: %w; free space on (or repair) the file system of state.dir, "+
			"then restart projector: positions not yet durable were not confirmed, so the sources send those changes again", h.dir, err)
		// The text alone: the storage engine's errors format with stack
		// traces otherwise.
		h.log.Error("state store cannot write; stopping", "dir", h.dir, "error", err.Error())
		close(h.failed)
	})
	h.limit.Log(h.log, slog.LevelDebug, "io", "state store write failed again", "error", err.Error())
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
	select {
	case <-s.health.failed:
		return s.health.err
	default:
		return nil
	}
}

// Failed is closed when Err becomes non-nil.
func (s *Store) Failed() <-chan struct{} { return s.health.failed }
