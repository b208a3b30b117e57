package fold

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/config"
)

// TestDecodeStateFoldsAsDecode: a state read with DecodeState, its array
// objects left encoded, folds, encodes and converts to a row exactly as the
// same state fully decoded.
func TestDecodeStateFoldsAsDecode(t *testing.T) {
	stream := orders(false)
	stream.On["Summed"] = config.Reducer{Set: map[string]string{"total": "($state.total + .price)"}, Append: &config.ArrayStep{Field: "items", Key: "sku"}}
	stream.On["ByNested"] = config.Reducer{Set: map[string]string{"total": "$state.items + 1"}}
	r, err := Compile(stream)
	if err != nil {
		t.Fatal(err)
	}
	shape := NewShape(stream)
	states := []string{
		`{"consumer_id":7,"items":[{"qty":1,"sku":"a"},{"qty":2,"sku":"b","tags":["x",{"y":"}"}]},{"sku":1},"loose",{"qty":3}],"state":"PENDING","total":10}`,
		`{"items":[{"note":"\u003c\u0026\u003e","sku":"a\"q\\"},{"sku":2},{"sku":{"n":[1]}}],"total":2.5}`,
		`{"items":[],"other":[[{"a":1}],{"b":[{"c":2}]}],"total":0}`,
		`{"total":1}`,
		`null`,
	}
	events := []struct{ typ, payload string }{
		{"ItemAdded", `{"sku": "a", "qty": 9}`}, {"ItemAdded", `{"sku": "z"}`}, {"ItemAdded", `{"sku": 1}`}, {"ItemAdded", `{"sku": 2}`},
		{"ItemAdded", `{"sku": {"n": [1]}}`}, {"ItemAdded", `{"sku": "a\"q\\"}`}, {"ItemAdded", `{"qty": 5}`},
		{"ItemRemoved", `{"sku": "b"}`}, {"ItemRemoved", `{"sku": 1}`}, {"ItemRemoved", `{"sku": "none"}`},
		{"OrderApproved", `{}`}, {"Repriced", `{"factor": 2}`}, {"Forgotten", `{}`}, {"Renamed", `{"name": {"items": [{"a": 1}]}}`},
		{"Summed", `{"sku": "s", "price": 2.5}`}, {"ByNested", `{}`}, {"OrderCancelled", `{}`}, {"Unknown", `{}`},
	}
	for _, raw := range states {
		eagerV, err := Decode([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		eager, _ := eagerV.(map[string]any)
		lazy, err := DecodeState([]byte(raw))
		if err != nil {
			t.Fatalf("DecodeState(%s): %v", raw, err)
		}
		if eager != nil {
			// States are stored as AppendJSON writes them.
			if b, _ := AppendJSON(nil, eager); string(b) != raw {
				t.Fatalf("test state %s is not as AppendJSON writes it: %s", raw, b)
			}
			if b, _ := json.Marshal(lazy); string(b) != raw {
				t.Errorf("json.Marshal of DecodeState(%s) = %s", raw, b)
			}
			if b, _ := AppendJSON(nil, lazy); string(b) != raw {
				t.Errorf("DecodeState(%s) encodes back as %s", raw, b)
			}
		}
		if !cmp.Equal(eager, decodedState(lazy)) {
			t.Errorf("DecodeState(%s) decoded = %v, Decode gives %v", raw, decodedState(lazy), eager)
		}
		for _, e := range events {
			ev := Event{Type: e.typ, AggregateID: "1", Payload: payload(t, e.payload)}
			want, wantOutcome, wantErr := r.Fold(eager, ev)
			got, outcome, err := r.Fold(lazy, ev)
			if outcome != wantOutcome || errText(err) != errText(wantErr) {
				t.Errorf("%s on %s: outcome %v, error %v; decoded state gives %v, %v", e.typ, raw, outcome, err, wantOutcome, wantErr)
				continue
			}
			wantJSON, _ := AppendJSON(nil, want)
			gotJSON, _ := AppendJSON(nil, got)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("%s %s on %s = %s; decoded state gives %s", e.typ, e.payload, raw, gotJSON, wantJSON)
			}
			if got == nil {
				continue
			}
			wantRow, _, wantErr := shape.EncodedRow("1", want)
			gotRow, _, err := shape.EncodedRow("1", got)
			if errText(err) != errText(wantErr) || !cmp.Equal(wantRow, gotRow) {
				t.Errorf("%s on %s: row %v, %v; decoded state gives %v, %v", e.typ, raw, gotRow, err, wantRow, wantErr)
			}
			if row, err := shape.Row("1", got); errText(err) != errText(wantErr) || (err == nil && !cmp.Equal(wantRow, row)) {
				t.Errorf("%s on %s: Row %v, %v; decoded state gives %v, %v", e.typ, raw, row, err, wantRow, wantErr)
			}
		}
	}
	for _, bad := range []string{`{"items":[{"a":1}`, `{"items":[{"a":1}]} x`, ``} {
		if _, err := DecodeState([]byte(bad)); err == nil {
			t.Errorf("DecodeState(%q) gave no error", bad)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestStringFieldIs: comparing an encoded object's field with a string by
// its text agrees with decoding the field and comparing, or says it cannot
// tell.
func TestStringFieldIs(t *testing.T) {
	tests := []struct {
		obj, key string
		want     bool
		known    bool
	}{
		{`{"sku":"a","qty":1}`, "a", true, true},
		{`{"qty":1,"sku":"a"}`, "a", true, true},
		{`{"sku":"ab"}`, "a", false, true},
		{`{"sku":"a"}`, "ab", false, true},
		{`{"sku":""}`, "", true, true},
		{`{"sku":1}`, "1", false, true},
		{`{"sku":null}`, "null", false, true},
		{`{"sku":{"a":"a"}}`, "a", false, true},
		{`{"qty":1}`, "a", false, true},
		{`{"tags":["sku"],"n":{"sku":"a"},"sku":"b"}`, "b", true, true},
		{`{"sku":"a\"q"}`, `a"q`, false, false},
		{`{"sku":"é"}`, "é", true, true},
		{`{"sku":"a"`, "a", true, true},
		{`["sku","a"]`, "a", false, false},
	}
	for _, tt := range tests {
		is, known := encodedObject{json: tt.obj}.stringFieldIs("sku", tt.key)
		if is != tt.want || known != tt.known {
			t.Errorf("stringFieldIs(%s, sku, %q) = %v, %v; want %v, %v", tt.obj, tt.key, is, known, tt.want, tt.known)
		}
		if !known {
			continue
		}
		if v, ok := (encodedObject{json: tt.obj}).field("sku"); ok && gojqEqual(v, tt.key) != is {
			t.Errorf("stringFieldIs(%s, sku, %q) = %v, but the decoded field compares %v", tt.obj, tt.key, is, !is)
		}
	}
}
