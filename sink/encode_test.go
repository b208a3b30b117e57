package sink

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestEncoderAdd(t *testing.T) {
	tests := []struct {
		name      string
		doc       Document
		versioned bool
		want      string
		wantErr   error
	}{
		{
			name:      "index",
			doc:       Document{Index: "orders", ID: "7", Version: 42, Source: json.RawMessage(`{"total":3}`)},
			versioned: true,
			want: `{"index":{"_index":"orders","_id":"7","version":42,"version_type":"external"}}` + "\n" +
				`{"total":3}` + "\n",
		},
		{
			name:      "delete",
			doc:       Document{Index: "orders", ID: "7", Version: 43},
			versioned: true,
			want:      `{"delete":{"_index":"orders","_id":"7","version":43,"version_type":"external"}}` + "\n",
		},
		{
			name: "unversioned dead letter",
			doc:  Document{Index: "orders-deadletter", ID: "ab", Source: json.RawMessage(`{}`)},
			want: `{"index":{"_index":"orders-deadletter","_id":"ab"}}` + "\n{}\n",
		},
		{
			name:      "id that needs escaping",
			doc:       Document{Index: "i", ID: "a\"b\\c\nd é", Version: 1, Source: json.RawMessage(`{}`)},
			versioned: true,
			want: `{"index":{"_index":"i","_id":"a\"b\\c\nd é","version":1,"version_type":"external"}}` +
				"\n{}\n",
		},
		{
			name:      "multi-line source is compacted",
			doc:       Document{Index: "i", ID: "1", Version: 1, Source: json.RawMessage("{\n  \"a\": [1,\n 2]\n}\n")},
			versioned: true,
			want:      `{"index":{"_index":"i","_id":"1","version":1,"version_type":"external"}}` + "\n" + `{"a":[1,2]}` + "\n",
		},
		{
			name:      "multi-line invalid source",
			doc:       Document{Index: "i", ID: "1", Version: 1, Source: json.RawMessage("{\n\"a\":")},
			versioned: true,
			wantErr:   errBadSource,
		},
		{
			name:      "empty source",
			doc:       Document{Index: "i", ID: "1", Version: 1, Source: json.RawMessage{}},
			versioned: true,
			wantErr:   errBadSource,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e encoder
			e.buf.WriteString("previous request\n")
			e.reset()
			err := e.add(&tt.doc, tt.versioned)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("add: error %v, want %v", err, tt.wantErr)
			}
			if got := string(e.bytes()); got != tt.want {
				t.Errorf("body:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestEncoderActionLinesAreJSON(t *testing.T) {
	var e encoder
	ids := []string{"plain", "quote\"", "tab\t", "ünï", "\x01", "<html>&"}
	for _, id := range ids {
		if err := e.add(&Document{Index: "i", ID: id, Version: 1}, true); err != nil {
			t.Fatalf("add %q: %v", id, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(e.bytes()))
	for _, id := range ids {
		var line struct {
			Delete struct {
				ID string `json:"_id"`
			}
		}
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("decode action for %q: %v", id, err)
		}
		if line.Delete.ID != id {
			t.Errorf("id %q came back as %q", id, line.Delete.ID)
		}
	}
}
