package capture

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleTransaction sets every field of a Transaction and of a Change, and
// holds a value of every kind a Row carries.
func sampleTransaction() *Transaction {
	orders := Table{Schema: "public", Name: "orders"}
	values := Row{
		"int":         int64(math.MinInt64),
		"big":         int64(math.MaxInt64),
		"float":       1.5,
		"whole_float": 3.0,
		"minus_zero":  math.Copysign(0, -1),
		"nan":         math.NaN(),
		"inf":         math.Inf(1),
		"minus_inf":   math.Inf(-1),
		"numeric":     Numeric("12345678901234567890.000000000001"),
		"numeric_nan": Numeric("NaN"),
		"text":        "fünf \"quoted\" <b>\n",
		"number_text": "42",
		"infinite_ts": "infinity",
		"bool":        true,
		"time":        time.Date(2026, 2, 28, 13, 14, 15, 123456000, time.UTC),
		"leap":        time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"year_10000":  time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"year_294276": time.Date(294276, 12, 31, 23, 59, 59, 999999000, time.UTC),
		"leap_10400":  time.Date(10400, 2, 29, 1, 2, 3, 0, time.UTC),
		"one_bc":      time.Date(0, 2, 29, 0, 0, 0, 0, time.UTC),
		"year_4714bc": time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC),
		"bytes":       []byte{0, 1, 2, 0xff},
		"empty_bytes": []byte{},
		"json":        json.RawMessage(`{"a":[1,"x",null]}`),
		"json_null":   json.RawMessage(`null`),
		"ints":        []any{int64(1), nil, int64(-3)},
		"floats":      []any{1.5, math.NaN(), math.Inf(-1)},
		"matrix":      []any{[]any{}, []any{Numeric("1.0"), nil}},
		"texts":       []any{"a", nil},
		"nulls":       []any{nil, nil},
		"empty":       []any{},
		"times":       []any{time.Date(12345, 6, 7, 8, 9, 10, 0, time.UTC)},
		"null":        nil,
	}
	old := Row{"id": int64(7), "json": nil, "null": json.RawMessage(`null`)}
	return &Transaction{
		Source: "shop", XID: 4242, CommitLSN: 0x16B374D848, EndLSN: 0x16B374D900,
		CommitTime: time.Date(2026, 12, 6, 18, 0, 0, 1000, time.UTC), Origin: "upstream",
		Snapshot: true, Reset: true, SnapshotDone: true, Copied: []Table{orders}, More: true, Offset: 500,
		Changes: []Change{
			{Op: Update, Table: orders, Key: []string{"id"}, Old: old, New: values, Unchanged: []string{"notes"}},
			{Op: Delete, Table: orders, Key: []string{"id"}, Old: Row{"id": int64(7)}},
			{Op: Truncate, Table: orders},
		},
		Messages: []Message{{Prefix: "projector", Content: []byte("fence"), Transactional: true, LSN: 0x16B374D850}},
	}
}

// TestTransactionRoundTrip writes a transaction as JSON and reads it
// back: every field and every value must come back the same, with the
// same Go type.
func TestTransactionRoundTrip(t *testing.T) {
	in := sampleTransaction()
	requireSet(t, reflect.ValueOf(*in), "Transaction")
	requireSet(t, reflect.ValueOf(in.Changes[0]), "Change")
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out Transaction
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v\n%s", err, b)
	}
	// The memory weight is the reading process's own, estimated on read.
	if out.Bytes <= int64(len(b)) {
		t.Errorf("a transaction read from %d bytes weighs %d bytes, want more", len(b), out.Bytes)
	}
	out.Bytes = in.Bytes
	if !same(reflect.ValueOf(*in), reflect.ValueOf(out)) {
		t.Errorf("the transaction changed on its way through JSON:\n in: %#v\nout: %#v\njson: %s", *in, out, b)
	}
	for col, want := range in.Changes[0].New {
		got := out.Changes[0].New[col]
		if !same(reflect.ValueOf(want), reflect.ValueOf(got)) {
			t.Errorf("column %s: %#v (%T) came back as %#v (%T)", col, want, want, got, got)
		}
	}
	// Pointer and value both serialise in the versioned form.
	byValue, err := json.Marshal(*in)
	if err != nil || string(byValue) != string(b) {
		t.Errorf("marshalled by value: %v\n%s\nby pointer:\n%s", err, byValue, b)
	}
}

// TestTransactionJSONForm pins the parts of the serialised form that
// docs/events.md promises: the version, the LSN text, the rows as
// documents show them and the kinds beside them.
func TestTransactionJSONForm(t *testing.T) {
	txn := &Transaction{Source: "shop", XID: 1, CommitLSN: 0x10, EndLSN: 0x20,
		CommitTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Changes: []Change{{Op: Insert, Table: Table{Schema: "public", Name: "t"}, Key: []string{"id"},
			New: Row{"id": int64(1), "at": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "name": "x", "f": math.NaN()}}}}
	b, err := json.Marshal(txn)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema_version":1,"source":"shop","xid":1,"commit_lsn":"0/10","end_lsn":"0/20",` +
		`"commit_time":"2026-01-02T03:04:05Z","changes":[{"op":"insert","table":{"schema":"public","name":"t"},` +
		`"key":["id"],"after":{"at":"+10000-01-01T00:00:00Z","f":"NaN","id":1,"name":"x"},` +
		`"after_kinds":{"at":"time","f":"float64","id":"int64"}}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestTransactionUnmarshalRefuses(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no version", `{"source":"shop","changes":[]}`, "no schema_version"},
		{"unknown version", `{"schema_version":2,"source":"shop","changes":[]}`, "schema_version 2 is unknown"},
		{"number without kind", `{"schema_version":1,"changes":[{"op":"insert","table":{"schema":"s","name":"t"},"after":{"id":1}}]}`,
			`insert of s.t, after: column "id": 1 has no kind`},
		{"unknown kind", `{"schema_version":1,"changes":[{"op":"insert","table":{"schema":"s","name":"t"},"after":{"id":1},"after_kinds":{"id":"int128"}}]}`,
			`unknown kind "int128"`},
		{"wrong value", `{"schema_version":1,"changes":[{"op":"insert","table":{"schema":"s","name":"t"},"after":{"at":"yesterday"},"after_kinds":{"at":"time"}}]}`,
			`column "at": kind "time"`},
		{"kind of a missing column", `{"schema_version":1,"changes":[{"op":"insert","table":{"schema":"s","name":"t"},"after":{},"after_kinds":{"id":"int64"}}]}`,
			`column "id", which the row does not have`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var txn Transaction
			err := json.Unmarshal([]byte(tt.in), &txn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	for _, want := range []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 2, 29, 0, 0, 0, 0, time.UTC), // not a leap year: becomes 1 March
		time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(-4, 2, 29, 0, 0, 0, 0, time.UTC),
	} {
		raw := AppendValue(nil, want)
		got, err := parseTime(string(raw[1 : len(raw)-1]))
		if err != nil || !got.Equal(want) {
			t.Errorf("%s read back as %v, %v; want %v", raw, got, err, want)
		}
	}
}

// requireSet fails when a field of v is its zero value: a field added to
// the model must be added to the sample, and so to the round trip.
func requireSet(t *testing.T, v reflect.Value, name string) {
	t.Helper()
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.Tag.Get("json") == "-" || !f.IsExported() {
			continue // not serialised; see TestTransactionRoundTrip
		}
		if v.Field(i).IsZero() {
			t.Errorf("the sample %s leaves %s unset", name, v.Type().Field(i).Name)
		}
	}
}

// same compares like reflect.DeepEqual, but NaN equals NaN and times are
// compared as instants.
func same(a, b reflect.Value) bool {
	if a.Kind() == reflect.Interface && b.Kind() == reflect.Interface {
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		a, b = a.Elem(), b.Elem()
	}
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	if ta, ok := a.Interface().(time.Time); ok {
		return ta.Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Float64:
		fa, fb := a.Float(), b.Float()
		return math.Float64bits(fa) == math.Float64bits(fb) || (math.IsNaN(fa) && math.IsNaN(fb))
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !same(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !same(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !a.Type().Field(i).IsExported() {
				continue // the process's own, never serialised (Transaction.recycle)
			}
			if !same(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
