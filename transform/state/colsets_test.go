package state

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestColumnSets(t *testing.T) {
	dir := t.TempDir()
	store, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := []Row{
		{Cols: []Column{}},
		{Cols: []Column{{Name: "id", Value: `7`}, {Name: "name", Value: `"Ada \"the\" first"`}}},
		{Cols: []Column{{Name: "id", Value: `8`}, {Name: "name", Value: `null`}}},
		{Cols: []Column{{Name: "id", Value: `9`}, {Name: "price", Value: `"12.50"`, Numeric: true}, {Name: "tags", Value: `["a",{"b":null}]`}}},
	}
	var stored [][]byte
	for _, r := range rows {
		b, err := store.cols.encode(&r)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, b)
	}
	if got := len(store.cols.names); got != 3 {
		t.Fatalf("%d column lists for 3 distinct name lists", got)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// The lists are durable: the rows read back after a reopen.
	store, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for i, b := range stored {
		got, err := store.cols.decode(b)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !reflect.DeepEqual(*got, rows[i]) {
			t.Fatalf("row %d: got %+v, want %+v", i, *got, rows[i])
		}
		// Rows stored with their names by earlier versions read the same.
		if got, err := store.cols.decode(encodeRow(&rows[i])); err != nil || !reflect.DeepEqual(*got, rows[i]) {
			t.Fatalf("row %d with names: got %+v, %v", i, got, err)
		}
	}
	if n, err := store.cols.number(rows[1].Cols); err != nil || n != 2 {
		t.Fatalf("list of %v after the reopen: %d, %v; want 2", rows[1].Cols, n, err)
	}

	for _, bad := range [][]byte{
		{rowSetFormat},                  // no list number
		{rowSetFormat, 9},               // an unknown list
		{rowSetFormat, 2, 0, 1, '7'},    // a column missing
		{rowSetFormat, 2, 0, 5, '7'},    // a value cut short
		{rowSetFormat, 1, 0, 1, '7'},    // a column too many
		{rowSetFormat, 2, 0, 1, '7', 0}, // a column cut short
	} {
		if r, err := store.cols.decode(bad); !errors.Is(err, errCorruptRow) {
			t.Errorf("decode %v: %+v, %v; want a corrupt row", bad, r, err)
		}
	}
}

func FuzzDecodeStoredRow(f *testing.F) {
	store, err := Open(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	for _, r := range []Row{
		{Cols: []Column{{Name: "id", Value: `1`}, {Name: "name", Value: `"x"`}}},
		{Cols: []Column{{Name: "price", Value: `"1.5"`, Numeric: true}}},
	} {
		b, err := store.cols.encode(&r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := store.cols.decode(b)
		if err != nil || len(b) == 0 || b[0] != rowSetFormat {
			return
		}
		again, err := store.cols.encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := store.cols.decode(again); err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("re-encoding a decoded row: got %+v, %v; want %+v", back, err, r)
		}
	})
}

func TestColumnSetsGap(t *testing.T) {
	dir := t.TempDir()
	store, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.db.Set(columnSetKey(2), []byte("id"), nil); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "the state is corrupt") {
		t.Fatalf("opening a store whose column lists skip one: %v, want a corrupt state", err)
	}
}
