package state

import (
	"bytes"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func TestKeyValue(t *testing.T) {
	tests := []struct {
		value string
		form  byte
	}{
		{"[7]", keyInt},
		{"[0]", keyInt},
		{"[-5]", keyInt},
		{"[9223372036854775807]", keyInt},
		{"[-9223372036854775808]", keyInt},
		{"[9223372036854775808]", keyJSON}, // beyond int64: kept as text
		{"[-0]", keyJSON},                  // not the form encodeKey writes
		{"[07]", keyJSON},
		{"[1.5]", keyJSON},
		{`["eu",7]`, keyJSON},
		{`[7,"eu"]`, keyJSON},
		{"", keyJSON},
		{"[-9223372036854775809]", keyJSON},
		{"[99999999999999999999]", keyJSON},
		{"[+1]", keyJSON},
		{"[1a]", keyJSON},
		{"[-]", keyJSON},
		{"[]", keyJSON},
		{"[-07]", keyJSON},
		{"[10]", keyInt},
	}
	for _, tt := range tests {
		b := appendKeyValue(nil, tt.value)
		if b[0] != tt.form {
			t.Errorf("%q is stored in form %#x, want %#x", tt.value, b[0], tt.form)
		}
		if got, ok := keyValue(b); !ok || got != tt.value {
			t.Errorf("%q reads back as %q, %v", tt.value, got, ok)
		}
	}
	for _, bad := range [][]byte{nil, {keyInt, 1, 2}, {keyInt, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0x03, '[', '1', ']'}, []byte("[1]")} {
		if got, ok := keyValue(bad); ok {
			t.Errorf("keyValue(%q) = %q, want no value", bad, got)
		}
	}
}

// Store forms of integer keys sort numerically, before every other key:
// that is what keeps rows copied or inserted in key order together.
func TestKeyValueOrder(t *testing.T) {
	ordered := []string{"[-9223372036854775808]", "[-10]", "[-9]", "[0]", "[9]", "[10]", "[100]",
		"[9223372036854775807]", `["a"]`, `["b"]`}
	var forms [][]byte
	for _, v := range ordered {
		forms = append(forms, appendKeyValue(nil, v))
	}
	if !slices.IsSortedFunc(forms, bytes.Compare) {
		t.Fatalf("store forms of %v are not in that order", ordered)
	}
}

func FuzzKeyValue(f *testing.F) {
	for _, v := range []string{"[1]", "[-1]", "[9223372036854775808]", `["a",1]`, ""} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.IndexByte(v, 0) >= 0 {
			return // JSON never holds a 0x00
		}
		b := appendKeyValue(nil, v)
		if got, ok := keyValue(b); !ok || got != v {
			t.Fatalf("%q is stored as %q and reads back as %q, %v", v, b, got, ok)
		}
		if _, isInt := KeyInteger(v); isInt != (b[0] == keyInt) {
			t.Fatalf("%q is stored in form %#x; KeyInteger says %v", v, b[0], isInt)
		}
		if bytes.IndexByte(b, 0) >= 0 && b[0] != keyInt {
			t.Fatalf("%q is stored as %q: text forms must hold no 0x00", v, b)
		}
	})
}

func TestSortRefs(t *testing.T) {
	refs := []DocRef{{"b", "[1]"}, {"a", `["x"]`}, {"a", "[10]"}, {"a", "[9]"}, {"a", "[-1]"}}
	SortRefs(refs)
	want := []DocRef{{"a", "[-1]"}, {"a", "[9]"}, {"a", "[10]"}, {"a", `["x"]`}, {"b", "[1]"}}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("sorted %v, want %v", refs, want)
	}
}

// TestSortStored: keys sort as the store keeps their rows, integers by
// value before every other key, and the others by the bytes of their
// JSON text.
func TestSortStored(t *testing.T) {
	pks := []string{`["b"]`, "[10]", `["10"]`, "[9]", `["a","1"]`, "[-1]", `["a"]`, "[9]"}
	SortStored(pks)
	want := []string{"[-1]", "[9]", "[9]", "[10]", `["10"]`, `["a","1"]`, `["a"]`, `["b"]`}
	if !reflect.DeepEqual(pks, want) {
		t.Fatalf("sorted %v, want %v", pks, want)
	}
	for i := 1; i < len(pks); i++ {
		if bytes.Compare(appendKeyValue(nil, pks[i-1]), appendKeyValue(nil, pks[i])) > 0 {
			t.Errorf("%s sorted before %s, whose store form comes first", pks[i-1], pks[i])
		}
	}
}

// TestMigrateKeyForm opens a store written with JSON key values, one of
// its keys already rewritten as a rewrite cut short would leave it, and
// checks that every row and index entry is found after the reopen.
func TestMigrateKeyForm(t *testing.T) {
	dir := t.TempDir()
	store, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	items := TableID{Source: "shop", Table: tbl("order_items")}
	byOrder := []string{"order_id"}
	value, err := store.cols.encode(&Row{Cols: []Column{{Name: "order_id", Value: "3"}}})
	if err != nil {
		t.Fatal(err)
	}
	b := store.db.NewBatch()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.Delete(keyFormKey(), nil))
	for _, pk := range []string{"[12]", "[7]", `["x"]`} {
		must(b.Set(key(spaceRow, items.Source, items.Table.String(), pk), value, nil))
		must(b.Set(append(key(spaceIndex, items.Source, items.Table.String(), "[order_id]", "[3]"), append([]byte{0}, pk...)...), nil, nil))
	}
	// Rewritten before a crash: the old key is gone, the new one there.
	must(b.Delete(key(spaceRow, items.Source, items.Table.String(), "[7]"), nil))
	must(b.Set(rowKey(items, "[7]"), value, nil))
	must(b.Commit(pebble.Sync))
	must(store.Close())

	for open := range 2 { // the second open finds nothing to rewrite
		var log bytes.Buffer
		store, err = Open(dir, slog.New(slog.NewTextHandler(&log, nil)))
		must(err)
		// Two rows and three index entries; the row rewritten before the
		// crash is left alone.
		if done := strings.Contains(log.String(), "state keys rewritten in numeric key order\" keys=5 "); done != (open == 0) {
			t.Fatalf("open %d logged:\n%s", open+1, log.String())
		}
		rd := newReader(store.db, store.cols, nil, false)
		for _, pk := range []string{"[7]", "[12]", `["x"]`} {
			if row, err := rd.Row(items, pk); err != nil || row == nil {
				t.Fatalf("row %s after the rewrite: %v, %v", pk, row, err)
			}
		}
		pks, err := rd.Lookup(items, byOrder, "[3]")
		must(err)
		if want := []string{"[7]", "[12]", `["x"]`}; !reflect.DeepEqual(pks, want) {
			t.Fatalf("lookup after the rewrite: %v, want %v", pks, want)
		}
		var scanned []string
		must(scanRows(store.db, items, func(pk string) error { scanned = append(scanned, pk); return nil }))
		if want := []string{"[7]", "[12]", `["x"]`}; !reflect.DeepEqual(scanned, want) {
			t.Fatalf("rows after the rewrite: %v, want %v", scanned, want)
		}
		must(rd.Close())
		must(store.Close())
	}
}

func TestStoreFormKeyMalformed(t *testing.T) {
	for _, k := range [][]byte{[]byte("r\x00shop"), []byte("x\x00shop\x00public.t\x00[a]\x00[1]")} {
		parts := 3
		if k[0] == 'x' {
			parts = 4
		}
		if _, _, err := storeFormKey(k, parts); err == nil || !strings.Contains(err.Error(), "the state is corrupt") {
			t.Errorf("storeFormKey(%q): %v, want a corrupt state", k, err)
		}
	}
}
