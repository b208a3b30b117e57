package transform

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
)

// propertyType is one column type of the property test: how PostgreSQL
// prints a random value of it, and the base name Describe reports.
type propertyType struct {
	oid  uint32
	base string
	gen  func(r *rand.Rand) string
}

const hstorePropertyOID = 90001 // an extension type, resolved by name

// propertyTypes covers the value shapes of docs/types.md, each generator
// leaning towards the edges: non-finite and huge numbers, dates beyond
// 9999 and before 1 AD, json of every shape, arrays with bounds.
var propertyTypes = []propertyType{
	{pgtype.Int2OID, "int2", func(r *rand.Rand) string { return strconv.Itoa(r.IntN(65536) - 32768) }},
	{pgtype.Int8OID, "int8", func(r *rand.Rand) string { return strconv.FormatInt(int64(r.Uint64()), 10) }},
	{pgtype.NumericOID, "numeric", genNumeric},
	{pgtype.Float4OID, "float4", func(r *rand.Rand) string { return pgFloat(float64(math.Float32frombits(r.Uint32())), 32) }},
	{pgtype.Float8OID, "float8", func(r *rand.Rand) string { return pgFloat(math.Float64frombits(r.Uint64()), 64) }},
	{pgtype.BoolOID, "bool", func(r *rand.Rand) string { return pick(r, "t", "f") }},
	{pgtype.TextOID, "text", func(r *rand.Rand) string { return randomText(r, 1+r.IntN(3)*r.IntN(20000)) }},
	{pgtype.ByteaOID, "bytea", func(r *rand.Rand) string {
		b := make([]byte, r.IntN(3)*r.IntN(40000))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return fmt.Sprintf(`\x%x`, b)
	}},
	{pgtype.DateOID, "date", func(r *rand.Rand) string { return genDate(r, false) }},
	{pgtype.TimestampOID, "timestamp", func(r *rand.Rand) string { return genDate(r, true) }},
	{pgtype.TimestamptzOID, "timestamptz", func(r *rand.Rand) string {
		s := genDate(r, true)
		if strings.HasSuffix(s, "infinity") {
			return s
		}
		zone := fmt.Sprintf("%+03d", r.IntN(29)-14)
		if bc, ok := strings.CutSuffix(s, " BC"); ok {
			return bc + zone + " BC"
		}
		return s + zone
	}},
	{pgtype.TimeOID, "time", func(r *rand.Rand) string { return pick(r, "24:00:00", "00:00:00.000001", "12:34:56") }},
	{pgtype.IntervalOID, "interval", func(r *rand.Rand) string { return pick(r, "178000000 years", "-3 days +04:05:06.5", "00:00:00") }},
	{pgtype.JSONOID, "json", genJSON},
	{pgtype.JSONBOID, "jsonb", genJSON},
	{pgtype.UUIDOID, "uuid", func(*rand.Rand) string { return "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" }},
	{pgtype.InetOID, "inet", func(r *rand.Rand) string { return pick(r, "10.0.0.1", "::1/128", "192.168.0.0/16") }},
	{pgtype.PointOID, "point", func(r *rand.Rand) string { return pick(r, "(1,2)", "(NaN,Infinity)") }},
	{790, "money", func(r *rand.Rand) string { return pick(r, "$1.00", "-$92,233,720,368,547,758.08") }},
	{142, "xml", func(r *rand.Rand) string { return "<a>" + strings.Repeat("x", r.IntN(3)*r.IntN(40000)) + "</a>" }},
	{pgtype.Int4rangeOID, "int4range", func(r *rand.Rand) string { return pick(r, "[1,5)", "empty", "(,)") }},
	{pgtype.Int4ArrayOID, "int4", genIntArray},
	{pgtype.DateArrayOID, "date", func(r *rand.Rand) string {
		return `{"` + genDate(r, false) + `","` + genDate(r, false) + `",NULL}`
	}},
	{pgtype.Float8ArrayOID, "float8", func(r *rand.Rand) string {
		return "{" + pgFloat(math.Float64frombits(r.Uint64()), 64) + "," + pick(r, "NaN", "-Infinity", "-0") + "}"
	}},
	{pgtype.NumericArrayOID, "numeric", func(r *rand.Rand) string { return "{" + genNumeric(r) + "," + genNumeric(r) + "}" }},
	{pgtype.JSONBArrayOID, "jsonb", func(r *rand.Rand) string {
		return `{` + strconv.Quote(genJSON(r)) + `,NULL}`
	}},
	{hstorePropertyOID, "hstore", func(r *rand.Rand) string {
		return pick(r, `"a"=>"1", "b"=>NULL`, ``, `""=>"x", "k.k"=>"v\"q"`)
	}},
}

func pick(r *rand.Rand, choices ...string) string { return choices[r.IntN(len(choices))] }

// pgFloat prints a float as PostgreSQL does (shortest exact digits).
func pgFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

func genNumeric(r *rand.Rand) string {
	switch r.IntN(6) {
	case 0:
		return pick(r, "NaN", "Infinity", "-Infinity", "0", "-0.00")
	case 1:
		return strings.Repeat("9", 1+r.IntN(1000))
	case 2:
		return "0." + strings.Repeat("0", r.IntN(500)) + "1"
	}
	return strconv.FormatInt(r.Int64N(1e12)-5e11, 10) + "." + strconv.Itoa(r.IntN(10000))
}

// genDate prints a date (or timestamp) anywhere in PostgreSQL's range:
// 4713 BC to 5874897 AD for dates, 294276 AD for timestamps.
func genDate(r *rand.Rand, withTime bool) string {
	if r.IntN(8) == 0 {
		return pick(r, "infinity", "-infinity")
	}
	top := 5874897
	if withTime {
		top = 294276
	}
	year := []int{1 + r.IntN(4713), 1 + r.IntN(9999), 10000 + r.IntN(top-10000)}[r.IntN(3)]
	bc := year <= 4713 && r.IntN(4) == 0
	s := fmt.Sprintf("%04d-%02d-%02d", year, 1+r.IntN(12), 1+r.IntN(28))
	if withTime {
		s += fmt.Sprintf(" %02d:%02d:%02d.%06d", r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000000))
	}
	if bc {
		s += " BC"
	}
	return s
}

// genJSON writes a random JSON text: any shape, numbers beyond every
// machine type, empty and repeated keys.
func genJSON(r *rand.Rand) string {
	var b strings.Builder
	var value func(depth int)
	value = func(depth int) {
		switch k := r.IntN(8); {
		case k == 0 || depth > 3:
			b.WriteString(pick(r, "null", "true", "18446744073709551616", "1.5e300", "-0", `"s"`, "12.50"))
		case k < 4:
			b.WriteString("{")
			for i := range r.IntN(4) {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strconv.Quote(pick(r, "a", "a", "", "b.c", "ü")) + ": ")
				value(depth + 1)
			}
			b.WriteString("}")
		case k < 6:
			b.WriteString("[")
			for i := range r.IntN(4) {
				if i > 0 {
					b.WriteString(",")
				}
				value(depth + 1)
			}
			b.WriteString("]")
		default:
			b.WriteString(strconv.Itoa(r.IntN(100)))
		}
	}
	value(0)
	return b.String()
}

func genIntArray(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return "{}"
	case 1:
		return "[2:3]={1,2}"
	case 2:
		return "[0:1][1:2]={{1,NULL},{3,4}}"
	}
	return "{" + strconv.Itoa(r.IntN(100)) + ",NULL}"
}

func randomText(r *rand.Rand, n int) string {
	runes := []rune{'a', ' ', '"', '\\', '\n', '\t', 'é', '✓', '𝄞', '<', '&', 0x7f, 0x01}
	var b strings.Builder
	for range n {
		b.WriteRune(runes[r.IntN(len(runes))])
	}
	return b.String()
}

// hstoreResolver knows the one extension type of the property test.
type hstoreResolver struct{}

func (hstoreResolver) ResolveType(_ context.Context, oid uint32) (capture.TypeInfo, error) {
	if oid == hstorePropertyOID {
		return capture.TypeInfo{OID: oid, Name: "hstore", Kind: capture.BaseType}, nil
	}
	return capture.TypeInfo{}, fmt.Errorf("type %d: %w", oid, capture.ErrTypeNotFound)
}

// pgoutput writes the replication messages of one transaction that
// inserts one row.
func pgoutput(values []string) [][]byte {
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	u32 := func(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
	u64 := func(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
	begin := u32(u64(u64([]byte{'B'}, 0x10), 0), 1)
	rel := append(u32([]byte{'R'}, 1), "public\x00t\x00d"...)
	rel = u16(rel, len(propertyTypes))
	ins := u16(append(u32([]byte{'I'}, 1), 'N'), len(propertyTypes))
	for i, pt := range propertyTypes {
		rel = append(rel, 0)
		rel = append(rel, fmt.Sprintf("c%d\x00", i)...)
		rel = u32(u32(rel, pt.oid), 0xFFFFFFFF)
		ins = append(u32(append(ins, 't'), uint32(len(values[i]))), values[i]...)
	}
	commit := u64(u64(u64(append([]byte{'C'}, 0), 0x10), 0x18), 0)
	return [][]byte{begin, rel, ins, commit}
}

// engineAccepts models how the search engine treats a JSON value under a
// field's mapping (as sink.Mapping writes it), as measured on OpenSearch
// 2.19: "" when the value is indexed, or kept and left out of the index by
// the mapping's ignore_malformed or ignore_above, else why the document
// would be refused. Values that ignore_malformed would hide are accepted
// only where docs/types.md says so: a valid date or finite number the
// engine cannot read would be a silent loss.
func engineAccepts(m map[string]any, v any) string {
	typ, _ := m["type"].(string)
	if m["enabled"] == false {
		return "" // never parsed
	}
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if why := engineAccepts(m, e); why != "" {
				return why
			}
		}
		return ""
	}
	if v == nil {
		return ""
	}
	_, isObject := v.(map[string]any)
	switch typ {
	case "flat_object", "flattened", "object", "nested":
		if !isObject {
			return fmt.Sprintf("%s field given %T", typ, v)
		}
		return ""
	}
	if isObject {
		return fmt.Sprintf("%s field given an object", typ)
	}
	malformed := func(why string) string {
		if m["ignore_malformed"] == true {
			return ""
		}
		return why
	}
	s := fmt.Sprint(v)
	switch typ {
	case "long":
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Sprintf("long field given %v", v)
		}
	case "double", "scaled_float":
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
			return ""
		}
		if s != "NaN" && s != "Infinity" && s != "-Infinity" && len(s) < 300 {
			return fmt.Sprintf("double field given %q, which is neither a number nor a documented exception", s)
		}
		return malformed(fmt.Sprintf("double field given %q", s))
	case "date":
		if engineDate.MatchString(s) {
			return ""
		}
		if s != "infinity" && s != "-infinity" {
			return fmt.Sprintf("date field given %q, which the engine would not read", s)
		}
		return malformed(fmt.Sprintf("date field given %q", s))
	case "binary":
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return fmt.Sprintf("binary field given %q", s)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("boolean field given %v", v)
		}
	case "keyword":
		if limit, _ := m["ignore_above"].(int); len(s) > 32766 && (limit == 0 || len([]rune(s)) <= limit) {
			return fmt.Sprintf("keyword field given a term of %d bytes", len(s))
		}
	}
	return ""
}

// engineDate is strict_date_optional_time as the engine reads it: years
// of more than four digits need ISO 8601's sign.
var engineDate = regexp.MustCompile(`^([+-]\d{5,}|-?\d{4})-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$`)

// TestRandomRowsReachTheIndex is the property behind docs/types.md: any
// row of values PostgreSQL prints decodes without error, becomes a valid
// JSON document, and under the default mappings every field of it is
// accepted by the engine. Run it as a fuzz target to search further:
// go test -fuzz FuzzRandomRows ./transform/.
func TestRandomRowsReachTheIndex(t *testing.T) {
	for seed := range uint64(300) {
		checkRandomRow(t, seed)
	}
}

func FuzzRandomRows(f *testing.F) {
	f.Add(uint64(1))
	f.Add(uint64(1 << 40))
	f.Fuzz(func(t *testing.T, seed uint64) { checkRandomRow(t, seed) })
}

func checkRandomRow(t *testing.T, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 42))
	values := make([]string, len(propertyTypes))
	for i, pt := range propertyTypes {
		values[i] = pt.gen(r)
	}
	d := capture.NewDecoder("property", hstoreResolver{})
	var txn *capture.Transaction
	for _, msg := range pgoutput(values) {
		got, err := d.Decode(context.Background(), 0x10, msg)
		if err != nil {
			t.Fatalf("seed %d: decode: %v\nvalues: %q", seed, err, values)
		}
		if got != nil {
			txn = got
		}
	}
	if txn == nil || len(txn.Changes) != 1 {
		t.Fatalf("seed %d: decoded no insert", seed)
	}
	row := txn.Changes[0].New
	for _, numericAsNumber := range []bool{false, true} {
		opts := sink.ColumnOptions{}
		if numericAsNumber {
			opts.Numeric = sink.NumericAsDouble
		}
		for i, pt := range propertyTypes {
			col := fmt.Sprintf("c%d", i)
			raw := string(appendJSON(nil, row[col]))
			if numericAsNumber && isNumeric(row[col]) {
				raw = numberForm(raw)
			}
			dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("seed %d: %s value %q became %q, which is not JSON: %v", seed, pt.base, values[i], raw, err)
			}
			mapping := sink.Mapping([]sink.Field{{Name: "f", Type: sink.ColumnType(pt.base, opts)}}, sink.OpenSearch)
			field := mapping["properties"].(map[string]any)["f"].(map[string]any)
			if why := engineAccepts(field, v); why != "" {
				t.Errorf("seed %d: %s value %.200q became %.200s: %s", seed, pt.base, values[i], raw, why)
			}
		}
	}
}
