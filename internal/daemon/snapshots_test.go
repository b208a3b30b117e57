package daemon

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
)

type fixedProgress []capture.TableProgress

func (f fixedProgress) ChunkProgress() ([]capture.TableProgress, error) { return f, nil }
func (f fixedProgress) SetChunkProgress([]capture.TableProgress) error  { return nil }

// TestReadinessTellsChunkedCopies: /readyz names the tables a chunked
// snapshot is copying and how far, and is not ready while the initial
// snapshot copies one; a copy requested while running (POST /v1/snapshot)
// is told but leaves the daemon ready.
func TestReadinessTellsChunkedCopies(t *testing.T) {
	orders := capture.Table{Schema: "public", Name: "orders"}
	items := capture.Table{Schema: "public", Name: "items"}
	stream := func(p fixedProgress) *capture.Stream {
		return capture.NewStream(capture.Source{Name: "shop", Tables: []capture.Table{orders, items}},
			capture.Options{Chunks: capture.ChunkOptions{Progress: p}}, capture.NewMetrics(prometheus.NewRegistry()),
			slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	tests := []struct {
		name     string
		progress fixedProgress
		ok       bool
		why      string
		wantOK   bool
		wantWhy  string
	}{
		{name: "nothing copying", ok: true, why: "ready", wantOK: true, wantWhy: "ready"},
		{name: "copies done", progress: fixedProgress{{Table: orders, Rows: 10, Done: true}}, ok: true, why: "ready",
			wantOK: true, wantWhy: "ready"},
		{name: "copying", progress: fixedProgress{{Table: items, Rows: 10, Done: true}, {Table: orders, Rows: 120000, Estimate: 300000}},
			ok: true, why: "ready", wantWhy: "source shop: copying in chunks public.orders: 120000 of about 300000 rows (40%)"},
		{name: "copying again on request", progress: fixedProgress{{Table: items, Rows: 10, Done: true}, {Table: orders, Rows: 5, Estimate: 10, Requested: true}},
			ok: true, why: "ready", wantOK: true, wantWhy: "ready\nsource shop: copying again on request public.orders: 5 of about 10 rows (50%)"},
		{name: "copying again on request while lagging", progress: fixedProgress{{Table: orders, Rows: 5, Requested: true}}, why: "source shop: lag 12.0s over 5s",
			wantWhy: "source shop: lag 12.0s over 5s\nsource shop: copying again on request public.orders: 5 rows"},
		{name: "initial copy and one on request", progress: fixedProgress{{Table: items, Rows: 7, Requested: true}, {Table: orders, Rows: 5}},
			ok: true, why: "ready", wantWhy: "source shop: copying in chunks public.orders: 5 rows\nsource shop: copying again on request public.items: 7 rows"},
		{name: "copying and lagging", progress: fixedProgress{{Table: orders, Rows: 5}}, why: "source shop: lag 12.0s over 5s",
			wantWhy: "source shop: lag 12.0s over 5s\nsource shop: copying in chunks public.orders: 5 rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := &snapshotProgress{tables: map[string][2]int64{}}
			sp.follow([]*capture.Stream{stream(tt.progress)})
			ok, why := sp.readiness(tt.ok, tt.why)
			if ok != tt.wantOK || why != tt.wantWhy {
				t.Errorf("readiness = %v, %q; want %v, %q", ok, why, tt.wantOK, tt.wantWhy)
			}
		})
	}
}
