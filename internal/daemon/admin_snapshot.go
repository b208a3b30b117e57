package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/admin"
)

// Snapshot copies one table, or every table a view reads, again while the
// sources keep streaming: capture's chunked copy between watermarks, whose
// rows reach the views as upserts. It repairs documents that drifted from
// their rows (edited or deleted in the index by hand) without a rebuild.
// It returns once the copies are queued; the queue is durable, so a
// restart continues them.
func (a *adminAPI) Snapshot(_ context.Context, req admin.SnapshotRequest) error {
	r := a.run.Load()
	if r == nil {
		return fmt.Errorf("the pipeline is starting; try again in a moment: %w", admin.ErrUnavailable)
	}
	want, err := a.snapshotTables(req)
	if err != nil {
		return err
	}
	cfg := a.config()
	for source, tables := range want {
		for _, t := range tables {
			for _, e := range eventTables(cfg.Sources[source], source) {
				if e == t {
					return fmt.Errorf("%s of source %q holds published events, which are folded in their order: copying it again would fold them again; rebuild the view instead: %w",
						t, source, admin.ErrConflict)
				}
			}
		}
	}
	for source, tables := range want {
		s := r.streams[source]
		if s == nil {
			return fmt.Errorf("source %q is not streaming in this run: %w", source, admin.ErrNotFound)
		}
		if err := s.SnapshotTables(tables...); err != nil {
			return fmt.Errorf("queue the snapshot of %v: %w", tables, err)
		}
	}
	return nil
}

// snapshotTables resolves a snapshot request to the captured tables it
// names, by source.
func (a *adminAPI) snapshotTables(req admin.SnapshotRequest) (map[string][]capture.Table, error) {
	cfg := a.config()
	if req.View != "" {
		v := a.view(req.View)
		if v == nil {
			return nil, fmt.Errorf("view %q: %w", req.View, admin.ErrNotFound)
		}
		one := *cfg
		one.Views = []config.View{*v}
		want := map[string][]capture.Table{}
		for source, tables := range one.TablesBySource() {
			for _, t := range tables {
				want[source] = append(want[source], capture.Table{Schema: t.Schema, Name: t.Name})
			}
		}
		return want, nil
	}
	for _, t := range CaptureSource(cfg, req.Source).Tables {
		if t.String() == req.Table || (t.Schema == "public" && t.Name == req.Table) {
			return map[string][]capture.Table{req.Source: {t}}, nil
		}
	}
	return nil, fmt.Errorf("table %q of source %q is not read by any view (name it as schema.table): %w",
		req.Table, req.Source, admin.ErrNotFound)
}

// copyProgress adds to a view's status the chunked copies of its tables
// from stream that run: the source is snapshotting, with the rows copied
// so far. The initial snapshot's copy makes the view snapshotting; a copy
// asked for while running (POST /v1/snapshot) leaves it streaming, since
// the view serves what it held before.
func copyProgress(v *admin.View, src *admin.Source, cv *config.View, stream *capture.Stream, log *slog.Logger) {
	if stream == nil {
		return
	}
	progress, err := stream.ChunkProgress()
	if err != nil {
		log.Debug("read a source's chunked copies for the admin API", "source", src.Name, "error", err)
		return
	}
	for _, p := range progress {
		if p.Done || !readsTable(cv, src.Name, p.Table) {
			continue
		}
		src.Snapshotting = true
		src.Copied += p.Rows
		src.Estimate += max(p.Estimate, p.Rows)
		if !p.Requested && v.State == admin.StateStreaming {
			v.State = admin.StateSnapshotting
		}
	}
}

// readsTable reports whether view v reads table t of source.
func readsTable(v *config.View, source string, t capture.Table) bool {
	for _, vt := range v.Tables() {
		if vt.Source == source && vt.Schema == t.Schema && vt.Name == t.Name {
			return true
		}
	}
	return false
}
