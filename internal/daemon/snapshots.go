package daemon

import (
	"fmt"
	"slices"
	"strings"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/state"
)

// tableCount is how far a table's copy is.
type tableCount struct {
	table          capture.Table
	done, estimate int64
}

// String says how far the copy is, e.g. "public.orders: 120000 of about
// 300000 rows (40%)".
func (c tableCount) String() string {
	if c.estimate <= 0 {
		return fmt.Sprintf("%s: %d rows", c.table, c.done) // no statistics yet
	}
	estimate := max(c.estimate, c.done)
	return fmt.Sprintf("%s: %d of about %d rows (%d%%)", c.table, c.done, estimate, c.done*100/estimate)
}

// follow makes sp report the chunked copies of streams, those of the
// pipeline that now runs.
func (sp *snapshotProgress) follow(streams []*capture.Stream) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.streams = slices.Clone(streams)
}

// readiness adds to the monitor's answer which tables are being copied
// and how far. The initial snapshot's chunked copy makes projector
// unready while it runs: its source streams, and the monitor would see
// nothing missing, but the views lack the rows not copied yet. An ad-hoc
// copy (POST /v1/snapshot) is progress, not unreadiness: the views serve
// what they held before it, so it is told in the answer alone. An
// exported snapshot's progress is told while the monitor finds its source
// not ready.
func (sp *snapshotProgress) readiness(ok bool, why string) (bool, string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	var lines, requested []string
	chunked := map[string]bool{}
	for _, s := range sp.streams {
		name := s.Source().Name
		progress, err := s.ChunkProgress()
		if err != nil {
			lines = append(lines, fmt.Sprintf("source %s: %v", name, err))
			continue
		}
		for _, p := range progress {
			if p.Done {
				continue
			}
			c := tableCount{table: p.Table, done: p.Rows, estimate: p.Estimate}
			if p.Requested {
				requested = append(requested, fmt.Sprintf("source %s: copying again on request %s", name, c))
				continue
			}
			chunked[name] = true
			lines = append(lines, fmt.Sprintf("source %s: copying in chunks %s", name, c))
		}
	}
	if !ok {
		for _, s := range sp.streams {
			name := s.Source().Name
			if c, copying := sp.current[name]; copying && !chunked[name] && s.Bootstrapping() {
				lines = append(lines, fmt.Sprintf("source %s: copying %s", name, c))
			}
		}
	}
	if len(lines) == 0 {
		return ok, strings.Join(append([]string{why}, requested...), "\n")
	}
	lines = append(lines, requested...)
	if ok {
		return false, strings.Join(lines, "\n")
	}
	return false, why + "\n" + strings.Join(lines, "\n")
}

// chunkOptions are a source's chunked snapshot settings, with its progress
// kept in the state.
func chunkOptions(src config.Source, store *state.Store, source string) capture.ChunkOptions {
	mode := capture.SnapshotMode(src.Snapshot.Mode)
	if len(eventTables(src, source)) > 0 {
		// Events must be folded in their order; a chunked copy interleaves
		// old events with new ones, so a source with an event table takes
		// an exported snapshot (config refuses an explicit chunked mode).
		mode = capture.SnapshotExported
	}
	return capture.ChunkOptions{Mode: mode, Rows: src.Snapshot.ChunkRows,
		Progress: chunkProgress{store: store, source: source}}
}

// eventTables lists the tables of a source that hold published events.
func eventTables(src config.Source, source string) []capture.Table {
	var out []capture.Table
	for _, e := range src.Events {
		if ref, ok := e.EventTable(source); ok {
			out = append(out, capture.Table{Schema: ref.Schema, Name: ref.Name})
		}
	}
	return out
}

// chunkProgress keeps a source's chunked snapshot progress in the state.
type chunkProgress struct {
	store  *state.Store
	source string
}

func (c chunkProgress) ChunkProgress() ([]capture.TableProgress, error) {
	return c.store.ChunkProgress(c.source)
}

func (c chunkProgress) SetChunkProgress(p []capture.TableProgress) error {
	return c.store.SetChunkProgress(c.source, p)
}
