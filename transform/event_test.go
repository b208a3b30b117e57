package transform

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/projector-dev/projector/capture"
)

func TestFromCapture(t *testing.T) {
	types := EventTypes{"public.orders": {"created": "OrderPlaced"}}
	key := []string{"id"}
	txn := &capture.Transaction{Source: "shop", XID: 9, CommitLSN: 100, EndLSN: 110, Changes: []capture.Change{
		{Op: capture.Insert, Table: tbl("orders"), Key: key, New: capture.Row{"id": int64(1)}},
		{Op: capture.Insert, Table: tbl("orders"), Key: key, New: capture.Row{"id": int64(2)}},
		{Op: capture.Update, Table: tbl("orders"), Key: key, New: capture.Row{"id": int64(2), "status": "paid"}},
		{Op: capture.Insert, Table: tbl("order_items"), Key: key, New: capture.Row{"id": int64(5)}},
		{Op: capture.Delete, Table: tbl("orders"), Key: key, Old: capture.Row{"id": int64(1)}},
		{Op: capture.Update, Table: tbl("orders"), Key: key, Old: capture.Row{"id": int64(2), "status": "paid"},
			New: capture.Row{"id": int64(2), "status": "sent"}},
	}}
	want := []struct {
		typ     string
		changed []string
	}{
		{"OrderPlaced", nil},
		{"OrderPlaced", nil},
		{"orders.updated", []string{"id", "status"}}, // old values unknown: all count as changed
		{"order_items.created", nil},
		{"orders.deleted", nil},
		{"orders.updated", []string{"status"}}, // REPLICA IDENTITY FULL
	}
	got := FromCapture(txn, types)
	if got.Source != "shop" || got.XID != 9 || got.EndLSN != 110 || len(got.Events) != len(want) {
		t.Fatalf("transaction: %+v", got)
	}
	for i, w := range want {
		ev := got.Events[i]
		if ev.Type != w.typ || !slices.Equal(ev.Changed, w.changed) || !slices.Equal(ev.KeyColumns, key) {
			t.Errorf("event %d: type %q, changed %v, key columns %v; want %q, %v, %v", i, ev.Type, ev.Changed, ev.KeyColumns, w.typ, w.changed, key)
		}
	}
	// Domain events travel as JSON between capture and view building.
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var back Transaction
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Events[4].Type != "orders.deleted" || !slices.Equal(back.Events[4].KeyColumns, key) || back.Events[4].Before["id"] != float64(1) {
		t.Fatalf("delete event after a JSON round trip: %+v", back.Events[4])
	}
}
