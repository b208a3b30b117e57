package state

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/projector-dev/projector/capture"
)

// copyWrites makes the writes of a group of snapshot rows: rows of two
// tables out of key order, a row written twice (the later one must win),
// their join index entries, pending marks and a checkpoint.
func copyWrites(t *testing.T, b *Batch) {
	t.Helper()
	orders := TableID{Source: "shop", Table: tbl("orders")}
	items := TableID{Source: "shop", Table: tbl("items")}
	seen := map[int]bool{}
	for _, id := range []int{7, 3, 12, 1, 3, 250, 40} {
		pk := fmt.Sprintf("[%d]", id)
		row := &Row{Cols: []Column{{Name: "customer_id", Value: fmt.Sprint(id % 5)}, {Name: "id", Value: fmt.Sprint(id)}}}
		if seen[id] {
			row.Cols[0].Value = "99" // the second write of [3]
		}
		seen[id] = true
		if err := b.SetRow(orders, pk, row, true); err != nil {
			t.Fatal(err)
		}
		if err := b.AddIndex(orders, []string{"customer_id"}, "["+row.Cols[0].Value+"]", pk); err != nil {
			t.Fatal(err)
		}
		if err := b.MarkPending(DocRef{View: "orders", ID: pk}, 4); err != nil {
			t.Fatal(err)
		}
		item := &Row{Cols: []Column{{Name: "order_id", Value: fmt.Sprint(id)}}}
		if err := b.SetRow(items, pk, item, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SetCheckpoint("shop", capture.Checkpoint{Applied: 42}); err != nil {
		t.Fatal(err)
	}
}

func dump(t *testing.T, s *Store) string {
	t.Helper()
	var out bytes.Buffer
	err := s.Walk(func(k, v []byte) error {
		fmt.Fprintf(&out, "%q=%q\n", k, v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestCopyBatchStoresWhatABatchDoes checks that the sorted tables a copy
// batch ingests hold exactly what an ordinary batch writes, and that they
// were ingested rather than written through the memtable.
func TestCopyBatchStoresWhatABatchDoes(t *testing.T) {
	plain, copied := openTemp(t), openTemp(t)
	b := plain.NewBatch()
	copyWrites(t, b)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	cb := copied.NewCopyBatch()
	copyWrites(t, cb)
	if err := cb.Commit(); err != nil {
		t.Fatal(err)
	}
	cb.Close()
	want, got := dump(t, plain), dump(t, copied)
	if got != want {
		t.Errorf("a copy batch stored\n%s\nan ordinary batch\n%s", got, want)
	}
	rd := copied.Snapshot(ReadUncached)
	defer rd.Close()
	r3, err := rd.Row(TableID{Source: "shop", Table: tbl("orders")}, "[3]")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := r3.Value("customer_id"); v != "99" {
		t.Errorf("row [3] has customer_id %s, want 99 of its second write", v)
	}
	if n := copied.db.Metrics().Ingest.Count; n != 1 {
		t.Errorf("copy batch: %d ingests, want 1", n)
	}
	if n := plain.db.Metrics().Ingest.Count; n != 0 {
		t.Errorf("ordinary batch: %d ingests, want 0", n)
	}
	entries, err := os.ReadDir(filepath.Join(copied.dir, ingestDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%d sorted tables left behind after the ingest", len(entries))
	}
}

// TestCopyBatchReadsItsWrites checks that a copy batch that is read, or
// has a row removed, moves its writes into the batch proper, in order:
// reads see them, and a later write of the same key still wins.
func TestCopyBatchReadsItsWrites(t *testing.T) {
	s := openTemp(t)
	orders := TableID{Source: "shop", Table: tbl("orders")}
	b := s.NewCopyBatch()
	defer b.Close()
	row := func(v string) *Row { return &Row{Cols: []Column{{Name: "status", Value: v}}} }
	if err := b.SetRow(orders, "[1]", row(`"new"`), true); err != nil {
		t.Fatal(err)
	}
	if err := b.AddIndex(orders, []string{"status"}, `["new"]`, "[1]"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRow(orders, "[2]", row(`"new"`), true); err != nil {
		t.Fatal(err)
	}
	got, err := b.Row(orders, "[1]")
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("a copy batch does not read a row it wrote")
	}
	pks, err := b.Lookup(orders, []string{"status"}, `["new"]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(pks) != 1 || pks[0] != "[1]" {
		t.Errorf("lookup in a copy batch: %v, want [[1]]", pks)
	}
	if err := b.SetRow(orders, "[1]", row(`"paid"`), true); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteRow(orders, "[2]"); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	rd := s.Snapshot(ReadUncached)
	defer rd.Close()
	r1, err := rd.Row(orders, "[1]")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := r1.Value("status"); v != `"paid"` {
		t.Errorf("row [1] is %s, want the later write \"paid\"", v)
	}
	r2, err := rd.Row(orders, "[2]")
	if err != nil {
		t.Fatal(err)
	}
	if r2 != nil {
		t.Errorf("row [2] was deleted after it was written, but is stored: %v", r2)
	}
}

// TestCopyBatchUncommitted checks that a copy batch closed without a
// commit leaves nothing, and that tables a crash left before their ingest
// are removed when the store opens.
func TestCopyBatchUncommitted(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewCopyBatch()
	copyWrites(t, b)
	b.Close()
	// Column lists are stored as soon as they are first used.
	if got := dump(t, s); strings.Contains(got, `"r\x00`) || strings.Contains(got, `"x\x00`) ||
		strings.Contains(got, `"d\x00`) || strings.Contains(got, `"c\x00`) {
		t.Errorf("an uncommitted copy batch left\n%s", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, ingestDir, "1.sst")
	if err := os.MkdirAll(filepath.Dir(left), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(left, []byte("half a table"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("a table left before its ingest is still there after opening the store: %v", err)
	}
}

// TestCopyBatchOverExistingRows checks a copy batch whose rows overlap
// what the store already holds, in its memtable (the removals a new
// snapshot begins with) and in its tables: the ingested rows win over
// both, and rows removed and not copied again stay removed.
func TestCopyBatchOverExistingRows(t *testing.T) {
	s := openTemp(t)
	orders := TableID{Source: "shop", Table: tbl("orders")}
	row := func(v string) *Row { return &Row{Cols: []Column{{Name: "status", Value: v}}} }
	write := func(b *Batch, fn func(pk string) error) {
		t.Helper()
		for id := 1; id <= 50; id++ {
			if err := fn(fmt.Sprintf("[%d]", id)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	b := s.NewBatch()
	write(b, func(pk string) error { return b.SetRow(orders, pk, row(`"old"`), false) })
	if err := s.db.Flush(); err != nil { // the old rows in a table
		t.Fatal(err)
	}
	b = s.NewBatch()
	write(b, func(pk string) error { return b.DeleteRow(orders, pk) }) // removals in the memtable
	cb := s.NewCopyBatch()
	write(cb, func(pk string) error {
		if pk == "[7]" {
			return nil // no longer in the source
		}
		return cb.SetRow(orders, pk, row(`"new"`), true)
	})
	rd := s.Snapshot(ReadUncached)
	defer rd.Close()
	for id := 1; id <= 50; id++ {
		r, err := rd.Row(orders, fmt.Sprintf("[%d]", id))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case id == 7 && r != nil:
			t.Errorf("row [7] was removed and not copied again, but is stored: %v", r.Cols)
		case id != 7 && r == nil:
			t.Errorf("row [%d] is missing", id)
		case id != 7:
			if v, _ := r.Value("status"); v != `"new"` {
				t.Errorf("row [%d] is %s, want the copied \"new\"", id, v)
			}
		}
	}
}
