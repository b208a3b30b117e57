package pgoutput

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzUniqueKeys checks uniqueKeys against encoding/json, which keeps the
// last value of a repeated key as jsonb does: for any valid JSON the
// result is valid JSON that reads as the same value and repeats no key,
// and it is the input itself when no key was repeated.
func FuzzUniqueKeys(f *testing.F) {
	for _, seed := range []string{
		`{"a": 1, "b": {"c": 1, "c": [2]}, "a": 18446744073709551616}`,
		`[{"a":1,"a":1.5e300}, {"a":2}]`,
		`[{"a": 1}, {"a": 2, "": 3}]`,
		` 12.50 `, `null`, `"\u00e9\ud834\udd1e"`, `{"a":{"a":{"a":1,"a":2}},"a":[]}`,
		`{"x": "<&>", "x": true, "y": [null, {"z": -0.0e-1}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return // PostgreSQL has validated every json value
		}
		out, repeated, err := uniqueKeys(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if !json.Valid(out) {
			t.Fatalf("%q gave invalid JSON %q", in, out)
		}
		if repeatsKey(out) {
			t.Fatalf("%q gave %q, which still repeats a key", in, out)
		}
		if !repeated && !bytes.Equal(out, in) {
			t.Fatalf("%q repeats no key but came out as %q", in, out)
		}
		if want, got := readJSON(t, in), readJSON(t, out); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q reads as %#v, but %q as %#v", in, want, out, got)
		}
	})
}

func readJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("read %q: %v", b, err)
	}
	return v
}
