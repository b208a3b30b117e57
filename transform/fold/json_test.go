package fold

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeStd is Decode as encoding/json alone does it: the reference the
// fast parser must agree with.
func decodeStd(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one value")
	}
	return normalise(v), nil
}

var jsonCases = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `7`, `-12`, `1.5`, `1.0`, `1e3`, `1E-7`, `-2.5e+10`,
	`9223372036854775807`, `9223372036854775808`, `-9223372036854775809`, `123456789012345678901234567890`,
	`1e400`, `0.000001`, `1e21`, `1e20`, `"plain"`, `""`, `"a \"quoted\" word"`, `"tab\there"`, `"\u00e9t\u00e9"`,
	`"\ud83d\ude00"`, `"<b>&amp;</b>"`, "\"\xff invalid utf-8\"", `"caf\u00e9 café"`,
	` { "sku" : "sku-1", "qty": 1, "price": 2.5, "tags": ["a", null, true, {"x": []}] } `,
	`{"a": 1, "a": 2}`, `{"nested": {"deep": {"deeper": [1, [2, [3]]]}}}`,
	// Not JSON, or more than one value: encoding/json's errors.
	``, ` `, `{`, `[1,]`, `{"a" 1}`, `{"a":1,}`, `01`, `1.`, `.5`, `-`, `1e`, `tru`, `nul`, `"unterminated`,
	"\"ctrl\x01\"", `{"a\\": 1, "a\"b": 2}`, "{\"\\u0001\": 1, \"\x01\": 2}", `[{"k": 1}, {"k": 2, "\u006b": 3}]`, `"bad \x escape"`, `{"a":1} {"b":2}`, `{"a":1} }`, `[1] x`, `NaN`, `+1`,
}

func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range jsonCases {
		want, wantErr := decodeStd([]byte(in))
		got, err := Decode([]byte(in))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("Decode(%q) error %v, encoding/json's %v", in, err, wantErr)
			continue
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })); diff != "" {
			t.Errorf("Decode(%q) (-encoding/json +got):\n%s", in, diff)
		}
	}
}

func TestAppendJSONAgreesWithMarshal(t *testing.T) {
	values := []any{nil, true, 0, -3, math.MaxInt, 1.5, 1e21, 1e20, 1e-7, 0.000001, -0.0, 123456.789,
		big.NewInt(0).Exp(big.NewInt(10), big.NewInt(30), nil), "plain", "<script>&</script>", "é\u2028\n\"", []any{}, map[string]any{},
		map[string]any{"b": []any{map[string]any{"sku": "a", "qty": 1}}, "a": nil, "c": 2.5, "é": "x"},
		json.RawMessage(`{"raw":1}`), int64(5)}
	for _, in := range jsonCases {
		if v, err := decodeStd([]byte(in)); err == nil {
			values = append(values, v)
		}
	}
	for _, v := range values {
		want, wantErr := json.Marshal(v)
		got, err := AppendJSON(nil, v)
		if (err != nil) != (wantErr != nil) || (err == nil && string(got) != string(want)) {
			t.Errorf("AppendJSON(%#v) = %s, %v; json.Marshal gives %s, %v", v, got, err, want, wantErr)
		}
	}
	for _, v := range []any{math.Inf(1), math.NaN(), []any{math.Inf(-1)}} {
		if _, err := AppendJSON(nil, v); err == nil {
			t.Errorf("AppendJSON(%v) gave no error; JSON has no such number", v)
		}
	}
}

// FuzzDecode checks the fast parser against encoding/json on any input.
func FuzzDecode(f *testing.F) {
	for _, in := range jsonCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantErr := decodeStd(in)
		got, err := Decode(in)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Decode(%q) error %v, encoding/json's %v", in, err, wantErr)
		}
		if !cmp.Equal(want, got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 }),
			cmp.Comparer(func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) })) {
			t.Fatalf("Decode(%q) = %#v, encoding/json gives %#v", in, got, want)
		}
	})
}

// TestEncodedRow: EncodedRow gives Row's row, and the state as AppendJSON
// encodes it, whatever the fields' types.
func TestEncodedRow(t *testing.T) {
	sh := NewShape(orders(false))
	states := []map[string]any{
		{},
		{"consumer_id": 7, "state": "PENDING", "total": 2.5, "items": []any{map[string]any{"sku": "a", "qty": 1}}, "note": "<b>", "id": "ignored"},
		{"items": nil, "extra": map[string]any{"z": 1, "a": []any{true, nil}}, "total": "12.50"},
	}
	for _, st := range states {
		want, wantErr := sh.Row("9", st)
		got, encoded, err := sh.EncodedRow("9", st)
		if err != nil || wantErr != nil {
			t.Fatalf("EncodedRow(%v) error %v, Row's %v", st, err, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("EncodedRow(%v) row (-Row +EncodedRow):\n%s", st, diff)
		}
		if b, _ := AppendJSON(nil, st); string(b) != string(encoded) {
			t.Errorf("EncodedRow(%v) encoded the state as %s, AppendJSON as %s", st, encoded, b)
		}
	}
	if _, _, err := sh.EncodedRow("9", map[string]any{"consumer_id": "x"}); err == nil || !strings.Contains(err.Error(), "consumer_id") {
		t.Errorf("a field that does not convert gives error %v, want one naming consumer_id", err)
	}
	if _, _, err := sh.EncodedRow("9", map[string]any{"extra": math.Inf(1)}); err == nil {
		t.Error("a state holding an infinite number encoded without an error")
	}
}

// TestSumAgreesWithJQ: a sum or difference evaluated without jq gives
// what jq gives, and leaves to jq what it does not evaluate.
func TestSumAgreesWithJQ(t *testing.T) {
	sources := []string{"$state.total + .price", "($state.total + .price)", "( $state.total - .price )", ".a.b + 1", "2.5 - $state.total",
		".price-1", "$state.total + -3", "1 + 2"}
	values := []any{0, 7, -3, 2.5, -0.5, math.MaxInt, math.MinInt, 1e300, nil, "x", []any{1}, map[string]any{"b": 2},
		big.NewInt(0).Exp(big.NewInt(10), big.NewInt(30), nil)}
	for _, src := range sources {
		e, err := compileExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		if e.sum == nil {
			t.Fatalf("%q is not compiled as a sum", src)
		}
		for _, sv := range values {
			for _, pv := range values {
				state := map[string]any{"total": sv}
				payload := map[string]any{"price": pv, "a": map[string]any{"b": pv}}
				want, wantErr := runCode(e.code, payload, state, Event{})
				got, err := run(e, payload, state, Event{})
				if (err != nil) != (wantErr != nil) || !cmp.Equal(want, got, cmp.Comparer(func(a, b *big.Int) bool { return a.Cmp(b) == 0 })) {
					t.Errorf("%s with $state.total %v and payload %v = %#v, %v; jq gives %#v, %v", src, sv, pv, got, err, want, wantErr)
				}
			}
		}
	}
	for _, src := range []string{".a + .b + .c", "$meta.id + 1", ".a * 2", "1e3 + .a", "$state + 1", "(.a) + 1"} {
		if e, err := compileExpr(src); err != nil || e.sum != nil {
			t.Errorf("%q compiled as a sum (%v); jq must evaluate it", src, err)
		}
	}
}

func TestGojqEqual(t *testing.T) {
	tests := []struct {
		a, b any
		want bool
	}{
		{"a", "a", true}, {"a", "b", false}, {"1", 1, false}, {1, "1", false}, {1, 1, true}, {2, 3, false},
		{1, 1.0, true}, {1.0, 1, true}, {1, big.NewInt(1), true}, {big.NewInt(2), 2, true}, {1.5, 1.5, true},
		{nil, nil, true}, {nil, "a", false}, {"a", nil, false},
		{map[string]any{"n": []any{1}}, map[string]any{"n": []any{1}}, true}, {map[string]any{"n": 1}, map[string]any{"n": 2}, false},
	}
	for _, tt := range tests {
		if got := gojqEqual(tt.a, tt.b); got != tt.want {
			t.Errorf("gojqEqual(%#v, %#v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
