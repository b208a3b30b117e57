package state

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/projector-dev/projector/capture"
)

// TestOpensStateOfEarlierVersion opens testdata/state-v1, a state written
// by an earlier version of projector, and checks that nothing is rewritten
// on the way (every key and value is the one that version wrote, listed
// in state-v1.kv) and that every part of the domain reads back: rows in
// both key forms, join lookups, checkpoints, pending marks, the slot mark
// and table identities.
func TestOpensStateOfEarlierVersion(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/state-v1")); err != nil {
		t.Fatal(err)
	}
	store, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	var got strings.Builder
	err = store.Walk(func(k, v []byte) error {
		if !bytes.Equal(k, versionCeilingKey()) { // follows the clock; left out of the dump
			fmt.Fprintf(&got, "%s\t%s\n", hex.EncodeToString(k), hex.EncodeToString(v))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/state-v1.kv")
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Fatalf("the state changed on open:\n got:\n%s\nwant:\n%s", got.String(), want)
	}

	rd := store.Snapshot(ReadUncached)
	defer rd.Close()
	orders := TableID{Source: "orders", Table: tbl("orders")}
	row, err := rd.Row(orders, "[1]")
	if err != nil {
		t.Fatal(err)
	}
	wantRow := &Row{Cols: []Column{{Name: "consumer_id", Value: "7"}, {Name: "id", Value: "1"}, {Name: "restaurant_id", Value: "3"},
		{Name: "status", Value: `"paid"`}, {Name: "total_cents", Value: "1250"}}}
	if !reflect.DeepEqual(row, wantRow) {
		t.Fatalf("order 1: %+v, want %+v", row, wantRow)
	}
	if row, err := rd.Row(TableID{Source: "orders", Table: tbl("tags")}, `["eu-west"]`); err != nil || row == nil {
		t.Fatalf("tag with a text key: %v, %v", row, err)
	} else if v, _ := row.Value("label"); v != `"EU"` {
		t.Fatalf("tag eu-west has label %s, want \"EU\"", v)
	}
	if row, err := rd.Row(TableID{Source: "orders", Table: tbl("order_line_items")}, "[11]"); err != nil || row != nil {
		t.Fatalf("deleted line item 11: %v, %v; want none", row, err)
	}
	pks, err := rd.Lookup(orders, []string{"consumer_id"}, "[7]")
	if err != nil || !reflect.DeepEqual(pks, []string{"[-5]", "[1]"}) {
		t.Fatalf("orders of consumer 7: %v, %v; want [-5] and [1] in key order", pks, err)
	}
	pks, err = rd.Lookup(TableID{Source: "orders", Table: tbl("order_line_items")}, []string{"order_id"}, "[1]")
	if err != nil || !reflect.DeepEqual(pks, []string{"[10]"}) {
		t.Fatalf("line items of order 1: %v, %v; want [10]", pks, err)
	}

	for source, applied := range map[string]capture.LSN{"orders": 0xA0, "consumers": 0xAA, "restaurants": 0x78, "deliveries": 0x8C} {
		cp, err := store.Checkpoint(source)
		if err != nil || cp.Applied != applied || !cp.SnapshotDone {
			t.Errorf("checkpoint of %s: %+v, %v; want applied %s, snapshot done", source, cp, err, applied)
		}
	}
	refs, next, err := store.PendingPage(nil, 10, func(string) bool { return true })
	wantRefs := []DocRef{{View: "order_history", ID: "[-5]"}, {View: "order_history", ID: "[1]"}}
	if err != nil || next != nil || !reflect.DeepEqual(refs, wantRefs) {
		t.Fatalf("pending documents: %v, %q, %v; want %v", refs, next, err, wantRefs)
	}
	mark, ok, err := store.SlotMark("orders")
	if err != nil || !ok || mark != 0x16B3748 {
		t.Fatalf("slot mark of orders: %s, %v, %v", mark, ok, err)
	}
	oids, err := store.TableOIDs("orders")
	if err != nil || !reflect.DeepEqual(oids, map[string]uint32{"public.orders": 16390, "public.order_line_items": 16401}) {
		t.Fatalf("table identities of orders: %v, %v", oids, err)
	}
}
