package state

import (
	"maps"
	"testing"

	"github.com/projector-dev/projector/capture"
)

// TestSlotMarksAndTableOIDsSurviveReopening records a source's slot mark
// and table identities, reopens the store and reads them back; another
// source has none, and a reset forgets the identities.
func TestSlotMarksAndTableOIDsSurviveReopening(t *testing.T) {
	dir := t.TempDir()
	store, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetSlotMark("orders", 0x16B3748); err != nil {
		t.Fatal(err)
	}
	oids := map[string]uint32{"public.orders": 16384, "public.order_line_items": 16390}
	if err := store.SetTableOIDs("orders", oids); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	tests := []struct {
		source   string
		wantMark capture.LSN
		wantOK   bool
		wantOIDs map[string]uint32
	}{
		{"orders", 0x16B3748, true, oids},
		{"consumers", 0, false, nil},
	}
	for _, tt := range tests {
		mark, ok, err := store.SlotMark(tt.source)
		if err != nil || mark != tt.wantMark || ok != tt.wantOK {
			t.Errorf("SlotMark(%q) = %s, %v, %v; want %s, %v", tt.source, mark, ok, err, tt.wantMark, tt.wantOK)
		}
		got, err := store.TableOIDs(tt.source)
		if err != nil || !maps.Equal(got, tt.wantOIDs) {
			t.Errorf("TableOIDs(%q) = %v, %v; want %v", tt.source, got, err, tt.wantOIDs)
		}
	}
	if err := store.SetTableOIDs("orders", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := store.TableOIDs("orders"); err != nil || got != nil {
		t.Errorf("TableOIDs after forgetting = %v, %v; want none", got, err)
	}
}
