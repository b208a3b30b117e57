package capture

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSnapshotTablesMarksRequests: a copy queued while the source streams
// is marked as requested, so the daemon stays ready during it, unless the
// table's initial copy has not ended yet: asking again keeps it part of
// the initial snapshot.
func TestSnapshotTablesMarksRequests(t *testing.T) {
	orders := Table{Schema: "public", Name: "orders"}
	items := Table{Schema: "public", Name: "items"}
	lines := Table{Schema: "public", Name: "lines"}
	store := &memProgress{p: []TableProgress{
		{Table: orders, Rows: 10, Done: true},
		{Table: items, Rows: 3},
		{Table: lines, Rows: 4, Requested: true},
	}}
	s := NewStream(Source{Name: "shop", Tables: []Table{orders, items, lines}},
		Options{Chunks: ChunkOptions{Progress: store}}, NewMetrics(prometheus.NewRegistry()),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.SnapshotTables(orders, items, lines); err != nil {
		t.Fatal(err)
	}
	want := map[Table]bool{orders: true, items: false, lines: true}
	got := store.get()
	if len(got) != len(want) {
		t.Fatalf("queue = %+v, want the three tables", got)
	}
	for _, p := range got {
		if p.Requested != want[p.Table] || p.Done || p.Rows != 0 {
			t.Errorf("%s queued as %+v; want it started over with requested %v", p.Table, p, want[p.Table])
		}
	}
}
