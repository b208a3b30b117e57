package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/projector-dev/projector/internal/budget"
	"github.com/projector-dev/projector/transform/state"
)

// heapHeadroom is the memory beyond the state store and the pipeline's
// budget (snapshot chunks, the feed and the sink's buffer): the group
// being applied and its documents, requests being encoded.
const heapHeadroom = 48 << 20

// limitMemory asks the Go runtime to keep the heap within what projector
// sizes for itself, unless GOMEMLIMIT says otherwise. Without a limit the
// collector lets the heap grow to twice what is live, and the store's
// caches and memtables alone are ~100 MB live: a sidecar would sit at
// 250-300 MB resident for no benefit. The limit is soft: when more is
// live (a huge transaction), the collector works harder but nothing fails.
func limitMemory(log *slog.Logger) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Info("memory limit from GOMEMLIMIT", "limit", v)
		return
	}
	limit := int64(state.Memory) + budget.Default().Total() + heapHeadroom
	debug.SetMemoryLimit(limit)
	log.Info("memory limit", "limit_mib", limit>>20, "override", "GOMEMLIMIT")
}
