package capture

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/capture/pgoutput"
)

func spillChange(id int64) pgoutput.Change {
	return pgoutput.Change{Op: pgoutput.Update, Table: pgoutput.Table{Schema: "public", Name: "items"}, Key: []string{"id"},
		New: pgoutput.Row{"id": id, "name": strings.Repeat("x", 40), "price": Numeric("1.50")}}
}

// A transaction's buffer keeps its changes in memory up to the threshold
// and in a file past it; either way they read back in order, in pages,
// without an aborted subtransaction's, and closing it leaves no file and
// no bytes counted.
func TestSpillBuffer(t *testing.T) {
	one := pgoutput.ChangeSize(new(spillChange(1)))
	for _, tc := range []struct {
		name      string
		threshold int64
		changes   int
		dropEvery int // changes i%dropEvery == 1 belong to an aborted subtransaction
		dropFirst int // and so do the first dropFirst changes
		page      int
		spills    bool
	}{
		{name: "small stays in memory", threshold: 1 << 20, changes: 100, page: 0},
		{name: "at the threshold stays", threshold: 10 * one, changes: 10, page: 0},
		{name: "past the threshold spills", threshold: 10 * one, changes: 11, page: 3, spills: true},
		{name: "huge in pages", threshold: 1024, changes: 5000, page: spillPageChanges, spills: true},
		{name: "subtransaction dropped in memory", threshold: 1 << 20, changes: 50, dropEvery: 3, page: 0},
		{name: "subtransaction dropped from the file", threshold: 1024, changes: 3000, dropEvery: 4, page: 700, spills: true},
		{name: "pages' worth of a dropped subtransaction", threshold: 1024, changes: 6000, dropFirst: 5000, page: 500, spills: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m := NewMetrics(prometheus.NewRegistry())
			sp, err := newSpiller(dir, tc.threshold, m, "src")
			if err != nil {
				t.Fatal(err)
			}
			open := m.transactionBytes.WithLabelValues("src")
			b := sp.buffer(700)
			var want []int64
			for i := range tc.changes {
				xid := uint32(700)
				if i < tc.dropFirst || tc.dropEvery > 0 && i%tc.dropEvery == 1 {
					xid = 701
				} else {
					want = append(want, int64(i))
				}
				if err := b.Add(xid, spillChange(int64(i))); err != nil {
					t.Fatal(err)
				}
			}
			if tc.dropEvery > 0 || tc.dropFirst > 0 {
				if err := b.DropXID(701); err != nil {
					t.Fatal(err)
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.spill"))
			if spilled := len(files) == 1; spilled != tc.spills {
				t.Fatalf("spill files %v, want spilled = %v", files, tc.spills)
			}
			if got := testutil.ToFloat64(open); got != float64(b.Size()) || got <= 0 {
				t.Errorf("projector_source_transaction_bytes = %v, buffer holds %d", got, b.Size())
			}
			if got := testutil.ToFloat64(m.spilledBytes.WithLabelValues("src")); (got > 0) != tc.spills {
				t.Errorf("projector_source_spilled_bytes_total = %v, want > 0: %v", got, tc.spills)
			}
			var got []int64
			for {
				page, err := b.Next(tc.page)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				if tc.page > 0 && len(page) > tc.page {
					t.Fatalf("a page of %d changes, asked for %d", len(page), tc.page)
				}
				for _, c := range page {
					got = append(got, c.New["id"].(int64))
					if c.New["price"] != Numeric("1.50") {
						t.Fatalf("price read back as %#v", c.New["price"])
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("read back %d changes %v…, want %d %v…", len(got), got[:min(5, len(got))], len(want), want[:min(5, len(want))])
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
				t.Errorf("files left after Close: %v", files)
			}
			if got := testutil.ToFloat64(open); got != 0 {
				t.Errorf("projector_source_transaction_bytes = %v after Close, want 0", got)
			}
		})
	}
}

// What a crashed run left in the spill directory is removed when the next
// starts; anything else there is left alone.
func TestSpillerEmptiesItsDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"700-1.spill", "701-2.spill", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := newSpiller(dir, 1, nil, "src"); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 1 || filepath.Base(left[0]) != "keep.txt" {
		t.Fatalf("left in the spill directory: %v, want only keep.txt", left)
	}
}
