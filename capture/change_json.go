package capture

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the version of the JSON form of a Transaction, written
// as its "schema_version" field and checked when one is read back. It
// changes only when that form changes in a way an older reader would
// misread; docs/events.md describes each version.
const SchemaVersion = 1

// The kinds of values in a serialised row: what Go type a JSON value in a
// row stands for. Strings, booleans and NULL need none; an array's kind is
// "[]" followed by the kind of its elements ("[]" alone when it holds no
// value to tell).
const (
	kindInt     = "int64"
	kindFloat   = "float64"
	kindNumeric = "numeric"
	kindTime    = "time"
	kindBytes   = "bytes"
	kindJSON    = "json"
	kindString  = "string"
	kindArray   = "[]"
)

// transactionJSON is the serialised form of a Transaction: its fields and
// the schema version.
type transactionJSON struct {
	SchemaVersion int `json:"schema_version"`
	*transactionFields
}

// transactionFields has Transaction's fields and JSON names, without its
// methods, so that encoding it does not recurse.
type transactionFields Transaction

// MarshalJSON writes the transaction in the versioned form described in
// docs/events.md. Row values are written as documents show them
// (AppendValue), with the kinds that make them read back as the same Go
// values.
func (t Transaction) MarshalJSON() ([]byte, error) {
	return json.Marshal(transactionJSON{SchemaVersion: SchemaVersion, transactionFields: (*transactionFields)(&t)})
}

// UnmarshalJSON reads a transaction written by MarshalJSON. A form of
// another schema version is refused rather than misread.
func (t *Transaction) UnmarshalJSON(b []byte) error {
	var v struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("read transaction: %w", err)
	}
	switch {
	case v.SchemaVersion == nil:
		return errors.New("read transaction: no schema_version; this is not a serialised projector transaction")
	case *v.SchemaVersion != SchemaVersion:
		return fmt.Errorf("read transaction: schema_version %d is unknown to this projector, which reads version %d; "+
			"read it with the projector version that wrote it", *v.SchemaVersion, SchemaVersion)
	}
	var out Transaction
	if err := json.Unmarshal(b, (*transactionFields)(&out)); err != nil {
		return fmt.Errorf("read transaction: %w", err)
	}
	// The weight is not serialised: it is what this process holds, so it
	// is estimated here, where the transaction is made, from its bytes.
	weighDecoded(&out, int64(len(b)))
	*t = out
	return nil
}

// changeJSON is the serialised form of a Change.
type changeJSON struct {
	Op          Op                `json:"op"`
	Table       Table             `json:"table"`
	Key         []string          `json:"key,omitempty"`
	Before      json.RawMessage   `json:"before,omitempty"`
	BeforeKinds map[string]string `json:"before_kinds,omitempty"`
	After       json.RawMessage   `json:"after,omitempty"`
	AfterKinds  map[string]string `json:"after_kinds,omitempty"`
	Unchanged   []string          `json:"unchanged,omitempty"`
}

// MarshalJSON writes the change with its rows as documents show them and,
// beside each row, the kinds of its values that JSON alone would lose
// (see docs/events.md).
func (c Change) MarshalJSON() ([]byte, error) {
	out := changeJSON{Op: c.Op, Table: c.Table, Key: c.Key, Unchanged: c.Unchanged}
	if c.Old != nil {
		out.Before, out.BeforeKinds = AppendRow(nil, c.Old), rowKinds(c.Old)
	}
	if c.New != nil {
		out.After, out.AfterKinds = AppendRow(nil, c.New), rowKinds(c.New)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a change written by MarshalJSON, giving every value
// back the Go type it had.
func (c *Change) UnmarshalJSON(b []byte) error {
	var in changeJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	out := Change{Op: in.Op, Table: in.Table, Key: in.Key, Unchanged: in.Unchanged}
	var err error
	if out.Old, err = readRow(in.Before, in.BeforeKinds); err != nil {
		return fmt.Errorf("%s of %s, before: %w", in.Op, in.Table, err)
	}
	if out.New, err = readRow(in.After, in.AfterKinds); err != nil {
		return fmt.Errorf("%s of %s, after: %w", in.Op, in.Table, err)
	}
	*c = out
	return nil
}

// AppendRow appends row as a JSON object, its columns in name order and
// each value as AppendValue writes it.
func AppendRow(b []byte, row Row) []byte {
	if row == nil {
		return append(b, "null"...)
	}
	cols := make([]string, 0, len(row))
	for col := range row {
		cols = append(cols, col)
	}
	slices.Sort(cols)
	b = append(b, '{')
	for i, col := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, col)
		b = append(b, ':')
		b = AppendValue(b, row[col])
	}
	return append(b, '}')
}

// rowKinds names the kind of every value of row that is not a string, a
// boolean or NULL.
func rowKinds(row Row) map[string]string {
	var kinds map[string]string
	for col, v := range row {
		if k := kindOfValue(v); k != "" && k != kindString {
			if kinds == nil {
				kinds = map[string]string{}
			}
			kinds[col] = k
		}
	}
	return kinds
}

// kindOfValue names the kind of v: "" for NULL and booleans, which JSON
// tells apart by itself.
func kindOfValue(v any) string {
	switch x := v.(type) {
	case nil, bool:
		return ""
	case int64, int32:
		return kindInt
	case float64:
		return kindFloat
	case Numeric:
		return kindNumeric
	case time.Time:
		return kindTime
	case []byte:
		return kindBytes
	case json.RawMessage:
		return kindJSON
	case []any:
		// The first element that says what the leaves are names the
		// array's kind; PostgreSQL's arrays hold one type throughout.
		elem := ""
		for _, e := range x {
			k := kindOfValue(e)
			if k != "" && (elem == "" || strings.TrimLeft(elem, "[]") == "") {
				elem = k
			}
			if elem != "" && strings.TrimLeft(elem, "[]") != "" {
				break
			}
		}
		return kindArray + elem
	default:
		return kindString // AppendValue writes any other value as its text
	}
}

func readRow(raw json.RawMessage, kinds map[string]string) (Row, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		if len(kinds) > 0 {
			return nil, errors.New("kinds for a row that is absent")
		}
		return nil, nil
	}
	var cols map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cols); err != nil {
		return nil, err
	}
	for col := range kinds {
		if _, ok := cols[col]; !ok {
			return nil, fmt.Errorf("a kind for column %q, which the row does not have", col)
		}
	}
	row := make(Row, len(cols))
	for col, v := range cols {
		val, err := readValue(v, kinds[col])
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", col, err)
		}
		row[col] = val
	}
	return row, nil
}

// readValue turns a JSON value written by AppendValue back into the Go
// value it was, given its kind.
func readValue(raw json.RawMessage, kind string) (any, error) {
	if kind == kindJSON {
		return json.RawMessage(slices.Clone(raw)), nil
	}
	if bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if strings.HasPrefix(kind, kindArray) {
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, fmt.Errorf("kind %q: %w", kind, err)
		}
		out := make([]any, len(elems))
		for i, e := range elems {
			v, err := readValue(e, kind[len(kindArray):])
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	switch kind {
	case "", kindString:
		switch v.(type) {
		case string, bool:
			return v, nil
		}
		return nil, fmt.Errorf("%s has no kind; only strings, booleans and null may go without one", raw)
	case kindInt:
		if n, ok := v.(json.Number); ok {
			i, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("kind %q: %w", kind, err)
			}
			return i, nil
		}
	case kindFloat:
		switch x := v.(type) {
		case json.Number:
			f, err := strconv.ParseFloat(string(x), 64)
			if err != nil {
				return nil, fmt.Errorf("kind %q: %w", kind, err)
			}
			return f, nil
		case string:
			switch x {
			case "NaN":
				return math.NaN(), nil
			case "Infinity":
				return math.Inf(1), nil
			case "-Infinity":
				return math.Inf(-1), nil
			}
		}
	case kindNumeric:
		if s, ok := v.(string); ok {
			return Numeric(s), nil
		}
	case kindTime:
		if s, ok := v.(string); ok {
			t, err := parseTime(s)
			if err != nil {
				return nil, fmt.Errorf("kind %q: %w", kind, err)
			}
			return t, nil
		}
	case kindBytes:
		if s, ok := v.(string); ok {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("kind %q: %w", kind, err)
			}
			return b, nil
		}
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	return nil, fmt.Errorf("%s is no value of kind %q", raw, kind)
}

// parseTime reads the RFC 3339 text AppendValue writes, including the
// years RFC 3339 has no room for: past 9999 with a "+", before 1 BC with a
// "-" (astronomical numbering: 1 BC is year 0000).
func parseTime(s string) (time.Time, error) {
	body, sign := s, 1
	if s != "" && (s[0] == '+' || s[0] == '-') {
		body = s[1:]
		if s[0] == '-' {
			sign = -1
		}
	}
	i := strings.IndexByte(body, '-')
	if i < 4 {
		return time.Time{}, fmt.Errorf("%q is no RFC 3339 time", s)
	}
	year, err := strconv.Atoi(body[:i])
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is no RFC 3339 time: %w", s, err)
	}
	year *= sign
	// Parse the rest in a year RFC 3339 allows that is a leap year exactly
	// when the real one is, so 29 February survives, then move the years.
	base := 2001
	if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		base = 2000
	}
	t, err := time.Parse(time.RFC3339Nano, strconv.Itoa(base)+body[i:])
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is no RFC 3339 time: %w", s, err)
	}
	return t.AddDate(year-base, 0, 0).UTC(), nil
}
