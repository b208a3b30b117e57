package transform

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
func encodeRow(r *storedRow) []byte {
	size := 2 + binary.MaxVarintLen64
	for _, c := range r.cols {
		size += len(c.name) + len(c.value) + 1 + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, size)
	b = append(b, rowFormat)
	b = binary.AppendUvarint(b, uint64(len(r.cols)))
	for _, c := range r.cols {
		b = binary.AppendUvarint(b, uint64(len(c.name)))
		b = append(b, c.name...)
		var numeric byte
		if c.numeric {
			numeric = 1
		}
		b = append(b, numeric)
		b = binary.AppendUvarint(b, uint64(len(c.value)))
		b = append(b, c.value...)
	}
	return b
}

func TestRowCodec(t *testing.T) {
	tests := []struct {
		name string
		row  storedRow
	}{
		{"empty", storedRow{cols: []storedColumn{}}},
		{"values", storedRow{cols: []storedColumn{
			{name: "gone", value: `null`}, {name: "id", value: `7`},
			{name: "name", value: `"Ada \"the\" first"`}, {name: "tags", value: `["a",{"b":null}]`}}}},
		{"numeric", storedRow{cols: []storedColumn{
			{name: "price", value: `"12.50"`, numeric: true}, {name: "qty", value: `3`}}}},
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
			for _, c := range tt.row.cols {
				old.Values[c.name] = json.RawMessage(c.value)
				if c.numeric {
					old.Numeric = append(old.Numeric, c.name)
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
	r := storedRow{cols: []storedColumn{{name: "id", value: `7`}, {name: "price", value: `"1.50"`, numeric: true}}}
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
		got, ok := r.value(tt.col)
		if got != tt.want || ok != tt.ok || r.isNumeric(tt.col) != tt.numeric {
			t.Errorf("%s: value %q, %v, numeric %v; want %q, %v, %v", tt.col, got, ok, r.isNumeric(tt.col), tt.want, tt.ok, tt.numeric)
		}
	}
}

func FuzzDecodeRow(f *testing.F) {
	f.Add(encodeRow(&storedRow{cols: []storedColumn{{name: "id", value: `1`, numeric: true}}}))
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
	id := tableID{source: "orders", table: tbl("order_line_items")}
	cols := []string{"order_id", "kind"}
	want := append(key(spaceIndex, id.source, id.table.String(), fmt.Sprint(cols), "\x01\x80\x00\x00\x00\x00\x00\x00\x07"), 0)
	if got := appendIndexPrefix(nil, id, cols, "[7]"); !bytes.Equal(got, want) {
		t.Fatalf("index prefix %q, want %q", got, want)
	}
	// So is the row key layout.
	if got, want := rowKey(id, `["a"]`), key(spaceRow, id.source, id.table.String(), "\x02[\"a\"]"); !bytes.Equal(got, want) {
		t.Fatalf("row key %q, want %q", got, want)
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

func TestDocID(t *testing.T) {
	for pk, want := range map[string]string{
		`[123]`:                  "123",
		`[-5]`:                   "-5",
		`[0]`:                    "0",
		`[1.5]`:                  "1.5",
		`["a|b"]`:                "a|b",
		`[7,"x"]`:                "7|x",
		`["x",7]`:                "x|7",
		`[01]`:                   "[01]", // not JSON: the key as stored
		`[-0]`:                   "-0",
		`[-]`:                    "[-]",
		`[1e3]`:                  "1e3",
		`[true]`:                 "true",
		`[12345678901234567890]`: "12345678901234567890",
	} {
		if got := docID(pk); got != want {
			t.Errorf("docID(%s) = %q, want %q", pk, got, want)
		}
	}
}
