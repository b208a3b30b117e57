package verify

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestCanonEqualForms(t *testing.T) {
	cases := []struct {
		name string
		typ  colType
		a, b string // JSON texts that must normalise alike
	}{
		{"offset and Z", colType{Base: "timestamptz"}, `"2024-03-01T12:00:00+00:00"`, `"2024-03-01T12:00:00Z"`},
		{"other offset", colType{Base: "timestamptz"}, `"2024-03-01T14:00:00.250+02:00"`, `"2024-03-01T12:00:00.25Z"`},
		{"timestamp without zone", colType{Base: "timestamp"}, `"2024-03-01T12:00:00.123456"`, `"2024-03-01T12:00:00.123456Z"`},
		{"date", colType{Base: "date"}, `"2024-03-01"`, `"2024-03-01T00:00:00Z"`},
		{"infinite timestamp", colType{Base: "timestamptz"}, `"infinity"`, `"infinity"`},
		{"numeric trailing zeros", colType{Base: "numeric"}, `"12.50"`, `"12.5"`},
		{"numeric as number", colType{Base: "numeric"}, `"12.50"`, `12.5`},
		{"numeric exponent", colType{Base: "numeric"}, `1.25e1`, `"12.5"`},
		{"numeric beyond float64", colType{Base: "numeric"}, `"12345678901234567890.123456789"`, `12345678901234567890.1234567890`},
		{"numeric NaN stays text", colType{Base: "numeric"}, `"NaN"`, `"NaN"`},
		{"big integer", colType{Base: "int8"}, `9223372036854775807`, `9223372036854775807`},
		{"float4 widened", colType{Base: "float4"}, `1.1`, `1.100000023841858`},
		{"float8", colType{Base: "float8"}, `0.1`, `1e-1`},
		{"float NaN", colType{Base: "float8"}, `"NaN"`, `"NaN"`},
		{"float infinity", colType{Base: "float4"}, `"-Infinity"`, `"-Infinity"`},
		{"float minus zero", colType{Base: "float8"}, `0`, `-0`},
		{"float minus zero in an array", colType{Base: "float4", Array: true}, `[0, -0.0]`, `[-0, 0]`},
		{"date 1 BC is year 0", colType{Base: "date"}, `"0001-01-01 BC"`, `"0000-01-01T00:00:00Z"`},
		{"date 44 BC", colType{Base: "date"}, `"0044-03-15 BC"`, `"-0043-03-15T00:00:00Z"`},
		{"timestamp BC", colType{Base: "timestamp"}, `"0044-03-15T12:00:00 BC"`, `"-0043-03-15T12:00:00Z"`},
		{"timestamptz BC", colType{Base: "timestamptz"}, `"0044-03-15T12:00:00+01:00 BC"`, `"-0043-03-15T11:00:00Z"`},
		{"date past 9999", colType{Base: "date"}, `"10000-01-01"`, `"+10000-01-01T00:00:00Z"`},
		{"timestamptz past 9999", colType{Base: "timestamptz"}, `"294276-12-31T23:59:59.999999+00:00"`, `"+294276-12-31T23:59:59.999999Z"`},
		{"leap day past 9999", colType{Base: "date"}, `"10400-02-29"`, `"+10400-02-29T00:00:00Z"`},
		{"infinite dates in an array", colType{Base: "date", Array: true}, `["infinity","-infinity","2020-01-01"]`, `["infinity","-infinity","2020-01-01T00:00:00Z"]`},
		{"numeric domain array", colType{Base: "numeric", Array: true}, `[1.1, 2]`, `["1.10", "2.00"]`},
		{"hstore object", colType{Base: "hstore"}, `{"a": "1", "b": null}`, `{"b":null,"a":"1"}`},
		{"bytea hex and base64", colType{Base: "bytea"}, `"\\x0102ff"`, `"AQL/"`},
		{"json key order", colType{Base: "jsonb"}, `{"a":1,"b":{"c":[1,"x"]}}`, `{"b":{"c":[1.0,"x"]},"a":1}`},
		{"array of instants", colType{Base: "timestamptz", Array: true}, `["2024-01-01T00:00:00+00:00",null]`, `["2024-01-01T00:00:00Z",null]`},
		{"two-dimensional array", colType{Base: "numeric", Array: true}, `[["1.0","2"],["3","4"]]`, `[["1","2.00"],["3","4"]]`},
		{"enum", colType{Base: "enum"}, `"placed"`, `"placed"`},
		{"interval", colType{Base: "interval"}, `"1 day 02:00:00"`, `"1 day 02:00:00"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := mustCanon(t, tc.typ, tc.a), mustCanon(t, tc.typ, tc.b)
			if !equal(a, b) {
				t.Errorf("%s normalises to %#v, %s to %#v; want equal", tc.a, a, tc.b, b)
			}
		})
	}
}

func TestCanonDistinguishesValues(t *testing.T) {
	cases := []struct {
		name string
		typ  colType
		a, b string
	}{
		{"different instants", colType{Base: "timestamptz"}, `"2024-03-01T12:00:00+01:00"`, `"2024-03-01T12:00:00Z"`},
		{"numeric digits", colType{Base: "numeric"}, `"12345678901234567890.1"`, `"12345678901234567890.2"`},
		{"int and text", colType{Base: "int4"}, `1`, `"one"`},
		{"null and zero", colType{Base: "int4"}, `null`, `0`},
		{"text case", colType{Base: "text"}, `"a"`, `"A"`},
		{"bool and text", colType{Base: "bool"}, `true`, `"true"`},
		{"array order", colType{Base: "int4", Array: true}, `[1,2]`, `[2,1]`},
		{"json nested value", colType{Base: "json"}, `{"a":{"b":1}}`, `{"a":{"b":2}}`},
		{"empty array and null", colType{Base: "text", Array: true}, `[]`, `null`},
		{"float NaN and null", colType{Base: "float8"}, `"NaN"`, `null`},
		{"float infinities", colType{Base: "float8"}, `"Infinity"`, `"-Infinity"`},
		{"date 1 BC and 1 AD", colType{Base: "date"}, `"0001-01-01 BC"`, `"0001-01-01T00:00:00Z"`},
		{"date infinity and a date", colType{Base: "date"}, `"infinity"`, `"+294276-12-31T00:00:00Z"`},
		{"hstore null and empty", colType{Base: "hstore"}, `{"a": null}`, `{"a": ""}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := mustCanon(t, tc.typ, tc.a), mustCanon(t, tc.typ, tc.b)
			if equal(a, b) {
				t.Errorf("%s and %s both normalise to %#v", tc.a, tc.b, a)
			}
		})
	}
}

func TestDecimal(t *testing.T) {
	cases := map[string]string{
		"12.50": "12.5", "-0.010": "-0.01", "100": "100", "1e3": "1000", "0.000": "0", "2.5e-3": "0.0025",
	}
	for in, want := range cases {
		if got, ok := decimal(in); !ok || got != want {
			t.Errorf("decimal(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := decimal("twelve"); ok {
		t.Error(`decimal("twelve") succeeded`)
	}
}

func TestFieldDiffsPairsHasManyByContent(t *testing.T) {
	root := &node{Fields: []field{{Column: "id", Name: "id", Type: colType{Base: "int4"}}},
		Children: []*node{{Name: "lines", Rel: "has_many", Fields: []field{{Column: "qty", Name: "qty", Type: colType{Base: "int4"}}}}}}
	want := mustCanonDoc(t, root, `{"id":1,"lines":[{"qty":1},{"qty":2},{"qty":3}]}`)
	got := mustCanonDoc(t, root, `{"id":1,"lines":[{"qty":3},{"qty":1},{"qty":5}],"stray":true}`)
	diffs := fieldDiffs(root, want, got)
	wantDiffs := []FieldDiff{{Path: "lines[2].qty", Want: "2", Got: "5"}, {Path: "stray", Want: absent, Got: "true"}}
	if len(diffs) != len(wantDiffs) {
		t.Fatalf("diffs %+v, want %+v", diffs, wantDiffs)
	}
	for i := range diffs {
		if diffs[i] != wantDiffs[i] {
			t.Errorf("diff %d: %+v, want %+v", i, diffs[i], wantDiffs[i])
		}
	}
}

func mustCanon(t *testing.T, typ colType, text string) any {
	t.Helper()
	v, err := decodeJSON([]byte(text))
	if err != nil {
		t.Fatalf("decode %s: %v", text, err)
	}
	return canon(typ, v)
}

func mustCanonDoc(t *testing.T, root *node, text string) []byte {
	t.Helper()
	out, err := canonSource(root, []byte(text), false)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeJSONScalars(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{`null`, nil}, {`true`, true}, {`false`, false}, {`"plain"`, "plain"}, {`""`, ""},
		{`"say \"hi\"\n"`, "say \"hi\"\n"}, {`"\u00e9"`, "é"}, {`-12.50e3`, json.Number("-12.50e3")},
		{`[1,"a"]`, []any{json.Number("1"), "a"}},
	}
	for _, tc := range cases {
		got, err := decodeJSON([]byte(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("decodeJSON(%s) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`"unterminated`, `-`, `12abc`, ``} {
		if got, err := decodeJSON([]byte(bad)); err == nil {
			t.Errorf("decodeJSON(%q) = %#v, want an error", bad, got)
		}
	}
}
