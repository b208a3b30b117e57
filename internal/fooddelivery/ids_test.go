package fooddelivery

import (
	"context"
	"errors"
	"testing"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestRandomIDSpreads guards against the choice collapsing onto the
// smallest id, which would make every change hit the same few rows.
func TestRandomIDSpreads(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE t (id bigserial PRIMARY KEY, even bool);
		INSERT INTO t (even) SELECT g % 2 = 0 FROM generate_series(1, 200) g`)
	conn := db.Connect()
	ctx := context.Background()
	g := newGenerator(5, 1)
	seen := map[int64]bool{}
	for range 50 {
		id, err := randomID(ctx, conn, "t", "even", g.r.Float64())
		if err != nil {
			t.Fatal(err)
		}
		if id%2 != 0 {
			t.Fatalf("picked id %d, which does not match the filter", id)
		}
		seen[id] = true
	}
	if len(seen) < 25 {
		t.Errorf("50 picks hit only %d distinct rows of 100", len(seen))
	}
	// Past the last match the choice falls back to it.
	if id, err := randomID(ctx, conn, "t", "id < 10", 0.99); err != nil || id != 9 {
		t.Errorf("randomID past the last match = %d, %v; want 9", id, err)
	}
	if _, err := randomID(ctx, conn, "t", "false", 0.5); !errors.Is(err, errNoRow) {
		t.Errorf("randomID with no match: %v, want errNoRow", err)
	}
}
