package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

func TestRowCodec(t *testing.T) {
	tests := []struct {
		name string
		row  storedRow
	}{
		{"empty", storedRow{Values: map[string]json.RawMessage{}}},
		{"values", storedRow{Values: map[string]json.RawMessage{
			"id": json.RawMessage(`7`), "name": json.RawMessage(`"Ada \"the\" first"`),
			"tags": json.RawMessage(`["a",{"b":null}]`), "gone": json.RawMessage(`null`)}}},
		{"numeric", storedRow{Values: map[string]json.RawMessage{
			"price": json.RawMessage(`"12.50"`), "qty": json.RawMessage(`3`)}, Numeric: []string{"price"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRow(encodeRow(&tt.row))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.row) {
				t.Fatalf("round trip: got %+v, want %+v", *got, tt.row)
			}
			// Rows stored as JSON by earlier versions read the same.
			old, err := json.Marshal(tt.row)
			if err != nil {
				t.Fatal(err)
			}
			if got, err = decodeRow(old); err != nil || !reflect.DeepEqual(*got, tt.row) {
				t.Fatalf("JSON row: got %+v, %v; want %+v", got, err, tt.row)
			}
		})
	}
}

func FuzzDecodeRow(f *testing.F) {
	f.Add(encodeRow(&storedRow{Values: map[string]json.RawMessage{"id": json.RawMessage(`1`)}, Numeric: []string{"id"}}))
	f.Add([]byte(`{"v":{"id":1}}`))
	f.Add([]byte{rowFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRow(b)
		if err != nil || len(b) == 0 || b[0] != rowFormat {
			return
		}
		again, err := decodeRow(encodeRow(r))
		if err != nil || !reflect.DeepEqual(len(again.Values), len(r.Values)) {
			t.Fatalf("re-encoding a decoded row: %v", err)
		}
	})
}

// The index key layout is part of the stored state: stores written before
// appendIndexPrefix existed must still be found.
func TestIndexPrefixLayout(t *testing.T) {
	id := tableID{source: "orders", table: tbl("order_line_items")}
	cols := []string{"order_id", "kind"}
	want := append(key(spaceIndex, id.source, id.table.String(), fmt.Sprint(cols), "[7]"), 0)
	if got := indexPrefix(id, cols, "[7]"); !bytes.Equal(got, want) {
		t.Fatalf("index prefix %q, want %q", got, want)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "status", "a b", `say "hi"`, `back\slash`, "tab\t", "<&>", "café", "\x7f"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("appendString(%q) = %s, reads back as %q (%v)", s, got, back, err)
		}
	}
}
