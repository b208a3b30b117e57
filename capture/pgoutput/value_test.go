package pgoutput

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Types a fake catalog knows, as a database with CREATE DOMAIN, CREATE TYPE
// ... AS ENUM and so on would have them.
const (
	intDomainOID      = 70001 // CREATE DOMAIN portion AS int4
	textDomainOID     = 70002 // CREATE DOMAIN label AS varchar
	moodOID           = 70003 // CREATE TYPE mood AS ENUM (...)
	moodArrayOID      = 70004 // mood[]
	intDomainArrayOID = 70005 // portion[]
	compositeOID      = 70006 // CREATE TYPE pair AS (a int, b text)
	domainDomainOID   = 70007 // CREATE DOMAIN small_portion AS portion
	rangeOID          = 70008 // CREATE TYPE floatrange AS RANGE (subtype = float8)
	hstoreOID         = 70009 // CREATE EXTENSION hstore
	hstoreArrayOID    = 70010 // hstore[]
	droppedOID        = 79999 // no longer in the catalog
)

// fakeTypes is a TypeResolver over a fixed catalog that records what it
// was asked.
type fakeTypes struct {
	types map[uint32]TypeInfo
	asked []uint32
	err   error
}

func newFakeTypes() *fakeTypes {
	return &fakeTypes{types: map[uint32]TypeInfo{
		intDomainOID:      {OID: intDomainOID, Name: "portion", Kind: DomainType, BaseOID: pgtype.Int4OID},
		textDomainOID:     {OID: textDomainOID, Name: "label", Kind: DomainType, BaseOID: pgtype.VarcharOID},
		moodOID:           {OID: moodOID, Name: "mood", Kind: EnumType},
		moodArrayOID:      {OID: moodArrayOID, Name: "mood[]", Kind: ArrayType, ElemOID: moodOID},
		intDomainArrayOID: {OID: intDomainArrayOID, Name: "portion[]", Kind: ArrayType, ElemOID: intDomainOID},
		compositeOID:      {OID: compositeOID, Name: "pair", Kind: CompositeType},
		domainDomainOID:   {OID: domainDomainOID, Name: "small_portion", Kind: DomainType, BaseOID: intDomainOID},
		rangeOID:          {OID: rangeOID, Name: "floatrange", Kind: RangeType},
		hstoreOID:         {OID: hstoreOID, Name: "hstore", Kind: BaseType},
		hstoreArrayOID:    {OID: hstoreArrayOID, Name: "hstore[]", Kind: ArrayType, ElemOID: hstoreOID},
	}}
}

func (f *fakeTypes) ResolveType(_ context.Context, oid uint32) (TypeInfo, error) {
	f.asked = append(f.asked, oid)
	if f.err != nil {
		return TypeInfo{}, f.err
	}
	info, ok := f.types[oid]
	if !ok {
		return TypeInfo{}, fmt.Errorf("type %d: %w", oid, ErrTypeNotFound)
	}
	return info, nil
}

// decodeValue sends one value of type oid through a Relation and an
// Insert message and returns what the row holds for it. Each message is
// overwritten once decoded, as a connection reuses its read buffer: what
// decodeValue returns must not alias it.
func decodeValue(t *testing.T, d *Decoder[Numeric], oid uint32, c cell) (any, error) {
	t.Helper()
	feed(t, d, beginMsg(0x10, commitTime, 1))
	msgs := [][]byte{relationMsg(0, 1, "public", "t", col{"v", oid, false}), insertMsg(0, 1, c)}
	for _, m := range msgs {
		if _, err := d.Decode(context.Background(), 0x10, m); err != nil {
			return nil, err
		}
		for i := range m {
			m[i] = '#'
		}
	}
	txn := feed(t, d, commitMsg(0x10, 0x18, commitTime))[0]
	v, ok := txn.Changes[0].New["v"]
	if !ok {
		t.Fatal("column missing from the row")
	}
	return v, nil
}

func utcTime(year int, month time.Month, day, hour, min, sec, nsec int) time.Time {
	return time.Date(year, month, day, hour, min, sec, nsec, time.UTC)
}

func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }

type valueCase struct {
	name string
	oid  uint32
	in   cell
	want any
}

var textValueCases = []valueCase{
	{"int2", pgtype.Int2OID, txt("-32768"), int64(-32768)},
	{"int4", pgtype.Int4OID, txt("2147483647"), int64(2147483647)},
	{"int8", pgtype.Int8OID, txt("-9223372036854775808"), int64(math.MinInt64)},
	{"int4 NULL", pgtype.Int4OID, nullCell(), nil},
	{"numeric", pgtype.NumericOID, txt("123.4500"), Numeric("123.4500")},
	{"numeric 40 digits", pgtype.NumericOID, txt("12345678901234567890.12345678901234567890"), Numeric("12345678901234567890.12345678901234567890")},
	{"numeric NaN", pgtype.NumericOID, txt("NaN"), Numeric("NaN")},
	{"numeric Infinity", pgtype.NumericOID, txt("Infinity"), Numeric("Infinity")},
	{"numeric -Infinity", pgtype.NumericOID, txt("-Infinity"), Numeric("-Infinity")},
	{"numeric NULL", pgtype.NumericOID, nullCell(), nil},
	{"float4", pgtype.Float4OID, txt("1.1"), 1.1},
	{"float4 -Infinity", pgtype.Float4OID, txt("-Infinity"), math.Inf(-1)},
	{"float8", pgtype.Float8OID, txt("1e+300"), 1e300},
	{"float8 NaN", pgtype.Float8OID, txt("NaN"), math.NaN()},
	{"float8 Infinity", pgtype.Float8OID, txt("Infinity"), math.Inf(1)},
	{"float8 -Infinity", pgtype.Float8OID, txt("-Infinity"), math.Inf(-1)},
	{"bool true", pgtype.BoolOID, txt("t"), true},
	{"bool false", pgtype.BoolOID, txt("f"), false},
	{"text", pgtype.TextOID, txt("héllo, wörld"), "héllo, wörld"},
	{"text empty", pgtype.TextOID, txt(""), ""},
	{"text NULL", pgtype.TextOID, nullCell(), nil},
	{"varchar", pgtype.VarcharOID, txt("soup"), "soup"},
	{"bpchar keeps padding", pgtype.BPCharOID, txt("ab  "), "ab  "},
	{"name", pgtype.NameOID, txt("pg_class"), "pg_class"},
	{"uuid", pgtype.UUIDOID, txt("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{"uuid made canonical", pgtype.UUIDOID, txt("A0EEBC999C0B4EF8BB6D6BB9BD380A11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{"date", pgtype.DateOID, txt("2024-02-29"), utcTime(2024, 2, 29, 0, 0, 0, 0)},
	{"date BC", pgtype.DateOID, txt("0044-03-15 BC"), utcTime(-43, 3, 15, 0, 0, 0, 0)},
	{"date infinity", pgtype.DateOID, txt("infinity"), "infinity"},
	{"date -infinity", pgtype.DateOID, txt("-infinity"), "-infinity"},
	{"timestamp", pgtype.TimestampOID, txt("2024-02-29 12:34:56.123456"), utcTime(2024, 2, 29, 12, 34, 56, 123456000)},
	{"timestamp infinity", pgtype.TimestampOID, txt("infinity"), "infinity"},
	{"timestamptz", pgtype.TimestamptzOID, txt("2024-02-29 12:34:56.123456+05:30"), utcTime(2024, 2, 29, 7, 4, 56, 123456000)},
	{"timestamptz local mean time", pgtype.TimestamptzOID, txt("1890-01-01 00:00:00+00:19:32"), utcTime(1889, 12, 31, 23, 40, 28, 0)},
	{"timestamptz -infinity", pgtype.TimestamptzOID, txt("-infinity"), "-infinity"},
	{"time", pgtype.TimeOID, txt("13:45:00"), "13:45:00"},
	{"time fraction", pgtype.TimeOID, txt("01:02:03.5"), "01:02:03.5"},
	{"time microsecond", pgtype.TimeOID, txt("00:00:00.000001"), "00:00:00.000001"},
	{"time end of day", pgtype.TimeOID, txt("24:00:00"), "24:00:00"},
	{"interval", pgtype.IntervalOID, txt("1 year 2 mons -3 days +04:05:06.5"), "1 year 2 mons -3 days +04:05:06.5"},
	{"json", pgtype.JSONOID, txt(`{"a": [1, 2]}`), rawJSON(`{"a": [1, 2]}`)},
	{"json null is not NULL", pgtype.JSONOID, txt("null"), rawJSON("null")},
	{"jsonb", pgtype.JSONBOID, txt(`{"a": [1, 2]}`), rawJSON(`{"a": [1, 2]}`)},
	{"json repeated key keeps the last", pgtype.JSONOID, txt(`{"a": 1, "b": {"c": 1, "c": [2]}, "a": 18446744073709551616}`),
		rawJSON(`{"a":18446744073709551616,"b":{"c":[2]}}`)},
	{"json repeated key in an array", pgtype.JSONOID, txt(`[{"a":1,"a":1.5e300}, {"a":2}]`), rawJSON(`[{"a":1.5e300},{"a":2}]`)},
	{"json same key in two objects", pgtype.JSONOID, txt(`[{"a": 1}, {"a": 2, "": 3}]`), rawJSON(`[{"a": 1}, {"a": 2, "": 3}]`)},
	{"json scalar", pgtype.JSONOID, txt(` 12.50 `), rawJSON(` 12.50 `)},
	{"hstore", hstoreOID, txt(`"b"=>"2", "a"=>NULL, ""=>"x", "k.k"=>"v\"q"`), rawJSON(`{"":"x","a":null,"b":"2","k.k":"v\"q"}`)},
	{"hstore empty", hstoreOID, txt(``), rawJSON(`{}`)},
	{"hstore[]", hstoreArrayOID, txt(`{"\"a\"=>\"1\""}`), []any{rawJSON(`{"a":"1"}`)}},
	{"date year 10000", pgtype.DateOID, txt("10000-01-01"), utcTime(10000, 1, 1, 0, 0, 0, 0)},
	{"date 1 BC is year 0", pgtype.DateOID, txt("0001-01-01 BC"), utcTime(0, 1, 1, 0, 0, 0, 0)},
	{"timestamp year 294276", pgtype.TimestampOID, txt("294276-12-31 23:59:59.999999"), utcTime(294276, 12, 31, 23, 59, 59, 999999000)},
	{"int4[] 2-d with bounds", pgtype.Int4ArrayOID, txt("[2:3][0:0]={{1},{2}}"), []any{[]any{int64(1)}, []any{int64(2)}}},
	{"jsonb NULL", pgtype.JSONBOID, nullCell(), nil},
	{"bytea", pgtype.ByteaOID, txt(`\x0102ff`), []byte{1, 2, 255}},
	{"bytea empty", pgtype.ByteaOID, txt(`\x`), []byte{}},
	{"bytea escape format", pgtype.ByteaOID, txt(`a\\b\001`), []byte("a\\b\x01")},
	{"enum", moodOID, txt("happy"), "happy"},
	{"enum NULL", moodOID, nullCell(), nil},
	{"domain over int", intDomainOID, txt("42"), int64(42)},
	{"domain over text", textDomainOID, txt("abc"), "abc"},
	{"domain over domain", domainDomainOID, txt("7"), int64(7)},
	{"int4[]", pgtype.Int4ArrayOID, txt("{1,2,3}"), []any{int64(1), int64(2), int64(3)}},
	{"int4[] 2-d", pgtype.Int4ArrayOID, txt("{{1,2},{3,NULL}}"), []any{[]any{int64(1), int64(2)}, []any{int64(3), nil}}},
	{"int4[] 3-d", pgtype.Int4ArrayOID, txt("{{{1},{2}},{{3},{4}}}"),
		[]any{[]any{[]any{int64(1)}, []any{int64(2)}}, []any{[]any{int64(3)}, []any{int64(4)}}}},
	{"int4[] with bounds", pgtype.Int4ArrayOID, txt("[0:1]={5,6}"), []any{int64(5), int64(6)}},
	{"int4[] empty", pgtype.Int4ArrayOID, txt("{}"), []any{}},
	{"int4[] NULL", pgtype.Int4ArrayOID, nullCell(), nil},
	{"text[]", pgtype.TextArrayOID, txt(`{"a b",NULL,"NULL","","c\"d"}`), []any{"a b", nil, "NULL", "", `c"d`}},
	{"numeric[]", pgtype.NumericArrayOID, txt("{1.50,NaN,-Infinity}"), []any{Numeric("1.50"), Numeric("NaN"), Numeric("-Infinity")}},
	{"float8[]", pgtype.Float8ArrayOID, txt("{NaN,Infinity,-0.5}"), []any{math.NaN(), math.Inf(1), -0.5}},
	{"bool[]", pgtype.BoolArrayOID, txt("{t,f,NULL}"), []any{true, false, nil}},
	{"date[]", pgtype.DateArrayOID, txt("{2024-01-01,infinity}"), []any{utcTime(2024, 1, 1, 0, 0, 0, 0), "infinity"}},
	{"timestamptz[]", pgtype.TimestamptzArrayOID, txt(`{"2024-01-01 10:00:00+02"}`), []any{utcTime(2024, 1, 1, 8, 0, 0, 0)}},
	{"uuid[]", pgtype.UUIDArrayOID, txt("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"), []any{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}},
	{"jsonb[]", pgtype.JSONBArrayOID, txt(`{"{\"a\": 1}","[]",NULL}`), []any{rawJSON(`{"a": 1}`), rawJSON("[]"), nil}},
	{"bytea[]", pgtype.ByteaArrayOID, txt(`{"\\x01"}`), []any{[]byte{1}}},
	{"interval[]", pgtype.IntervalArrayOID, txt(`{"1 day","-00:00:01"}`), []any{"1 day", "-00:00:01"}},
	{"time[]", pgtype.TimeArrayOID, txt("{10:00:00,24:00:00}"), []any{"10:00:00", "24:00:00"}},
	{"enum[]", moodArrayOID, txt("{happy,sad}"), []any{"happy", "sad"}},
	{"domain[]", intDomainArrayOID, txt("{1,NULL}"), []any{int64(1), nil}},
	{"box[] uses ; between elements", pgtype.BoxArrayOID, txt("{(1,1),(0,0);(2,2),(1,1)}"), []any{"(1,1),(0,0)", "(2,2),(1,1)"}},
	{"inet as text", pgtype.InetOID, txt("10.0.0.1/32"), "10.0.0.1/32"},
	{"int4range as text", pgtype.Int4rangeOID, txt("[1,5)"), "[1,5)"},
	{"money as text", 790, txt("$1.00"), "$1.00"},
	{"oid as text", pgtype.OIDOID, txt("12345"), "12345"},
	{"composite as text", compositeOID, txt("(1,abc)"), "(1,abc)"},
	{"range as text", rangeOID, txt("[1.5,2)"), "[1.5,2)"},
	{"dropped type as text", droppedOID, txt("whatever"), "whatever"},
}

func TestDecodeTextValues(t *testing.T) {
	d := newDecoder(newFakeTypes())
	for _, tc := range textValueCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeValue(t, d, tc.oid, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !sameValue(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// binaryOf encodes the text form of a value in the binary format with pgx.
func binaryOf(t *testing.T, oid uint32, text string) cell {
	t.Helper()
	m := pgtype.NewMap()
	typ, ok := m.TypeForOID(oid)
	if !ok {
		t.Fatalf("pgx does not know type %d", oid)
	}
	v, err := typ.Codec.DecodeValue(m, oid, pgtype.TextFormatCode, []byte(text))
	if err != nil {
		t.Fatalf("read %q as %s: %v", text, typ.Name, err)
	}
	return binCell(encodeBinary(t, oid, v))
}

func encodeBinary(t *testing.T, oid uint32, v any) []byte {
	t.Helper()
	b, err := pgtype.NewMap().Encode(oid, pgtype.BinaryFormatCode, v, nil)
	if err != nil {
		t.Fatalf("encode %v as binary type %d: %v", v, oid, err)
	}
	return b
}

func ptrTo[T any](v T) *T { return &v }

func TestDecodeBinaryValues(t *testing.T) {
	d := newDecoder(newFakeTypes())
	for _, tc := range []struct {
		name string
		oid  uint32
		text string // encoded to binary with pgx, unless in is set
		in   []byte
		want any
	}{
		{"int2", pgtype.Int2OID, "-32768", nil, int64(-32768)},
		{"int8", pgtype.Int8OID, "9223372036854775807", nil, int64(math.MaxInt64)},
		{"float4", pgtype.Float4OID, "1.5", nil, 1.5},
		{"float8 NaN", pgtype.Float8OID, "NaN", nil, math.NaN()},
		{"numeric keeps scale", pgtype.NumericOID, "123.4500", nil, Numeric("123.4500")},
		{"numeric NaN", pgtype.NumericOID, "NaN", nil, Numeric("NaN")},
		{"bool", pgtype.BoolOID, "t", nil, true},
		{"text", pgtype.TextOID, "héllo", nil, "héllo"},
		{"uuid", pgtype.UUIDOID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", nil, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"date", pgtype.DateOID, "2024-02-29", nil, utcTime(2024, 2, 29, 0, 0, 0, 0)},
		{"timestamp", pgtype.TimestampOID, "2024-02-29 12:34:56.5", nil, utcTime(2024, 2, 29, 12, 34, 56, 500000000)},
		{"timestamptz", pgtype.TimestamptzOID, "2024-02-29 12:34:56+02", nil, utcTime(2024, 2, 29, 10, 34, 56, 0)},
		{"time", pgtype.TimeOID, "24:00:00", nil, "24:00:00"},
		{"interval", pgtype.IntervalOID, "1 year 2 mons -3 days 04:05:06.5", nil, "1 year 2 mons -3 days +04:05:06.5"},
		{"jsonb", pgtype.JSONBOID, "", append([]byte{1}, `{"a": 1}`...), rawJSON(`{"a": 1}`)},
		{"json", pgtype.JSONOID, "", []byte(`[1]`), rawJSON(`[1]`)},
		{"bytea", pgtype.ByteaOID, `\x01ff`, nil, []byte{1, 255}},
		{"int4[] 2-d", pgtype.Int4ArrayOID, "", encodeBinary(t, pgtype.Int4ArrayOID, [][]*int32{{ptrTo[int32](1), ptrTo[int32](2)}, {ptrTo[int32](3), nil}}),
			[]any{[]any{int64(1), int64(2)}, []any{int64(3), nil}}},
		{"text[]", pgtype.TextArrayOID, `{"a b",NULL,""}`, nil, []any{"a b", nil, ""}},
		{"inet printed as text", pgtype.InetOID, "10.0.0.0/8", nil, "10.0.0.0/8"},
		{"inet host printed as text", pgtype.InetOID, "10.0.0.1", nil, "10.0.0.1"},
		{"cidr printed as text", pgtype.CIDROID, "10.0.0.1/32", nil, "10.0.0.1/32"},
		{"enum label", moodOID, "", []byte("happy"), "happy"},
		{"domain over int", intDomainOID, "", []byte{0, 0, 0, 42}, int64(42)},
		{"composite kept as bytes", compositeOID, "", []byte{0, 0, 0, 0}, []byte{0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := binCell(tc.in)
			if tc.in == nil {
				in = binaryOf(t, tc.oid, tc.text)
			}
			got, err := decodeValue(t, d, tc.oid, in)
			if err != nil {
				t.Fatal(err)
			}
			if !sameValue(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// sameValue is reflect.DeepEqual, except that NaN equals NaN.
func sameValue(a, b any) bool {
	fa, aok := a.(float64)
	fb, bok := b.(float64)
	if aok && bok && math.IsNaN(fa) && math.IsNaN(fb) {
		return true
	}
	sa, aok := a.([]any)
	sb, bok := b.([]any)
	if aok && bok {
		if len(sa) != len(sb) || (sa == nil) != (sb == nil) {
			return false
		}
		for i := range sa {
			if !sameValue(sa[i], sb[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// Snapshot values come straight from the connection's read buffer, which
// is reused: a decoded value must not share memory with its input.
func TestDecodedValuesDoNotAliasInput(t *testing.T) {
	codecs := NewValues[Numeric](newFakeTypes())
	for _, tc := range textValueCases {
		if tc.in.kind != 't' {
			continue
		}
		v, err := codecs.decoderFor(context.Background(), tc.oid)
		if err != nil {
			t.Fatal(err)
		}
		src := append([]byte(nil), tc.in.data...)
		got, err := codecs.decode(v, pgtype.TextFormatCode, src)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i := range src {
			src[i] = '#'
		}
		if !sameValue(got, tc.want) {
			t.Errorf("%s: got %#v after the input changed, want %#v", tc.name, got, tc.want)
		}
	}
}

// TestLossyValuesCounted checks that the values docs/types.md calls lossy
// are counted by reason, and others are not.
func TestLossyValuesCounted(t *testing.T) {
	tests := []struct {
		name string
		oid  uint32
		in   string
		want LossyReason
		lost bool
	}{
		{"float NaN", pgtype.Float8OID, "NaN", NotFinite, true},
		{"float -Infinity", pgtype.Float4OID, "-Infinity", NotFinite, true},
		{"float", pgtype.Float8OID, "-0", NotFinite, false},
		{"numeric Infinity", pgtype.NumericOID, "Infinity", NotFinite, true},
		{"numeric", pgtype.NumericOID, "12.50", NotFinite, false},
		{"date infinity", pgtype.DateOID, "infinity", InfiniteDate, true},
		{"timestamptz -infinity in an array", pgtype.TimestamptzArrayOID, "{-infinity}", InfiniteDate, true},
		{"date BC", pgtype.DateOID, "0001-01-01 BC", InfiniteDate, false},
		{"json repeated key", pgtype.JSONOID, `{"a":1,"a":2}`, JSONRepeatedKey, true},
		{"jsonb", pgtype.JSONBOID, `{"a":1}`, JSONRepeatedKey, false},
		{"array bounds", pgtype.Int4ArrayOID, "[2:3]={1,2}", ArrayBounds, true},
		{"array", pgtype.Int4ArrayOID, "{{1,2}}", ArrayBounds, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDecoder(newFakeTypes())
			if _, err := decodeValue(t, d, tt.oid, txt(tt.in)); err != nil {
				t.Fatal(err)
			}
			var want LossyCounts
			if tt.lost {
				want[tt.want] = 1
			}
			if got := d.TakeLossy(); got != want {
				t.Errorf("counted %v, want %v", got, want)
			}
			if again := d.TakeLossy(); again != (LossyCounts{}) {
				t.Errorf("counted %v again", again)
			}
		})
	}
}
