package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// encodeRow writes a row in rowFormat, as projector stored rows before
// column lists: a tag, the column count, and per column its name, whether
// it is numeric and its JSON value, each with a length, in name order.
func encodeRow(r *Row) []byte {
	size := 2 + binary.MaxVarintLen64
	for _, c := range r.Cols {
		size += len(c.Name) + len(c.Value) + 1 + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, size)
	b = append(b, rowFormat)
	b = binary.AppendUvarint(b, uint64(len(r.Cols)))
	for _, c := range r.Cols {
		b = binary.AppendUvarint(b, uint64(len(c.Name)))
		b = append(b, c.Name...)
		var numeric byte
		if c.Numeric {
			numeric = 1
		}
		b = append(b, numeric)
		b = binary.AppendUvarint(b, uint64(len(c.Value)))
		b = append(b, c.Value...)
	}
	return b
}

func TestRowCodec(t *testing.T) {
	tests := []struct {
		name string
		row  Row
	}{
		{"empty", Row{Cols: []Column{}}},
		{"values", Row{Cols: []Column{
			{Name: "gone", Value: `null`}, {Name: "id", Value: `7`},
			{Name: "name", Value: `"Ada \"the\" first"`}, {Name: "tags", Value: `["a",{"b":null}]`}}}},
		{"numeric", Row{Cols: []Column{
			{Name: "price", Value: `"12.50"`, Numeric: true}, {Name: "qty", Value: `3`}}}},
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
			old := jsonRow{Values: map[string]json.RawMessage{}}
			for _, c := range tt.row.Cols {
				old.Values[c.Name] = json.RawMessage(c.Value)
				if c.Numeric {
					old.Numeric = append(old.Numeric, c.Name)
				}
			}
			b, err := json.Marshal(old)
			if err != nil {
				t.Fatal(err)
			}
			if got, err = decodeRow(b); err != nil || !reflect.DeepEqual(*got, tt.row) {
				t.Fatalf("JSON row %s: got %+v, %v; want %+v", b, got, err, tt.row)
			}
		})
	}
}

func TestRowValues(t *testing.T) {
	r := Row{Cols: []Column{{Name: "id", Value: `7`}, {Name: "price", Value: `"1.50"`, Numeric: true}}}
	tests := []struct {
		col     string
		want    string
		ok      bool
		numeric bool
	}{
		{"id", `7`, true, false},
		{"price", `"1.50"`, true, true},
		{"missing", "", false, false},
	}
	for _, tt := range tests {
		got, ok := r.Value(tt.col)
		if got != tt.want || ok != tt.ok || r.IsNumeric(tt.col) != tt.numeric {
			t.Errorf("%s: value %q, %v, numeric %v; want %q, %v, %v", tt.col, got, ok, r.IsNumeric(tt.col), tt.want, tt.ok, tt.numeric)
		}
	}
}

func FuzzDecodeRow(f *testing.F) {
	f.Add(encodeRow(&Row{Cols: []Column{{Name: "id", Value: `1`, Numeric: true}}}))
	f.Add([]byte(`{"v":{"id":1}}`))
	f.Add([]byte{rowFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRow(b)
		if err != nil || len(b) == 0 || b[0] != rowFormat {
			return
		}
		again, err := decodeRow(encodeRow(r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("re-encoding a decoded row: got %+v, %v; want %+v", again, err, r)
		}
	})
}

// The index and row key layouts are part of the stored state: stores
// written before appendIndexPrefix and appendRowKey existed must still be
// found.
func TestIndexPrefixLayout(t *testing.T) {
	id := TableID{Source: "orders", Table: tbl("order_line_items")}
	cols := []string{"order_id", "kind"}
	want := append(key(spaceIndex, id.Source, id.Table.String(), fmt.Sprint(cols), "\x01\x80\x00\x00\x00\x00\x00\x00\x07"), 0)
	if got := appendIndexPrefix(nil, id, cols, "[7]"); !bytes.Equal(got, want) {
		t.Fatalf("index prefix %q, want %q", got, want)
	}
	// So is the row key layout.
	if got, want := rowKey(id, `["a"]`), key(spaceRow, id.Source, id.Table.String(), "\x02[\"a\"]"); !bytes.Equal(got, want) {
		t.Fatalf("row key %q, want %q", got, want)
	}
}
