package capture

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/internal/testbed"
)

func TestChunkQuery(t *testing.T) {
	tb := Table{Schema: "public", Name: "accounts"}
	key, types := []string{"tenant", "code"}, []string{"text", "text"}
	tests := []struct {
		name        string
		last, upper []string
		want        string
	}{
		{name: "one chunk, the whole table", want: `SELECT * FROM "public"."accounts"`},
		{name: "first chunk", upper: []string{"a", "c9"},
			want: `SELECT * FROM "public"."accounts" WHERE ("tenant", "code") <= ('a'::text, 'c9'::text)`},
		{name: "middle chunk, quoted", last: []string{"a", "c9"}, upper: []string{"o'brien", "c1"},
			want: `SELECT * FROM "public"."accounts" WHERE ("tenant", "code") > ('a'::text, 'c9'::text) AND ("tenant", "code") <= ('o''brien'::text, 'c1'::text)`},
		{name: "last chunk", last: []string{"é", "c7"},
			want: `SELECT * FROM "public"."accounts" WHERE ("tenant", "code") > ('é'::text, 'c7'::text)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chunkQuery(tb, key, types, tt.last, tt.upper); got != tt.want {
				t.Errorf("chunkQuery = %s\nwant          %s", got, tt.want)
			}
		})
	}
}

// TestSnapshotModeDecision: auto copies a small source in one exported
// snapshot and a large one in chunks; a table without a key is never
// chunked in auto mode.
func TestSnapshotModeDecision(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 1000)
	db.Exec(`CREATE TABLE keyless (v int)`)
	db.Exec(`ANALYZE items`)
	items := Table{Schema: "public", Name: "items"}
	keyless := Table{Schema: "public", Name: "keyless"}
	tests := []struct {
		name   string
		tables []Table
		opts   ChunkOptions
		want   SnapshotMode
	}{
		{name: "small source", tables: []Table{items}, want: SnapshotExported},
		{name: "large source", tables: []Table{items}, opts: ChunkOptions{AutoRows: 500}, want: SnapshotChunked},
		{name: "large source with a keyless table", tables: []Table{items, keyless}, opts: ChunkOptions{AutoRows: 500}, want: SnapshotExported},
		{name: "exported asked for", tables: []Table{items}, opts: ChunkOptions{Mode: SnapshotExported, AutoRows: 1}, want: SnapshotExported},
		{name: "chunked asked for", tables: []Table{items}, opts: ChunkOptions{Mode: SnapshotChunked}, want: SnapshotChunked},
	}
	// Before PostgreSQL 14 pgoutput sends no logical decoding messages,
	// which the watermarks are: auto never chunks, and chunked is refused.
	before14 := serverVersion(t, testbed.Primary) < 140000
	if before14 {
		tests[1].want = SnapshotExported
		tests[4].want = ""
	}
	ctx := context.Background()
	conn := db.Connect()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream(Source{Name: db.Name, DSN: db.DSN(), Tables: tt.tables}, Options{Chunks: tt.opts},
				NewMetrics(prometheus.NewRegistry()), testLogger(t))
			got, why, err := s.chunks.decide(ctx, conn)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "PostgreSQL 14 or later") {
					t.Errorf("decide = %s, %v; want it refused, naming PostgreSQL 14", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("decide = %s (%s), want %s", got, why, tt.want)
			}
		})
	}
}
