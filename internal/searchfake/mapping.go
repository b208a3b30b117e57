package searchfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// objectMapping is the properties of the root or of an object or nested
// field.
type objectMapping struct {
	dynamic string // "true", "false" or "strict"
	fields  map[string]*fieldMapping
}

// fieldMapping is one mapped field.
type fieldMapping struct {
	typ             string
	ignoreMalformed bool
	enabled         bool // false: an object kept in _source, not parsed or indexed
	indexed         bool // false: "index": false, not searchable
	props           *objectMapping
	multi           map[string]*fieldMapping // "fields": sub-fields such as .keyword
}

// scalarTypes are the field types the fake knows besides object and
// nested; any other type is refused as the engines refuse an unknown one.
var scalarTypes = map[string]bool{
	"text": true, "keyword": true, "match_only_text": true, "wildcard": true, "constant_keyword": true,
	"long": true, "integer": true, "short": true, "byte": true, "unsigned_long": true,
	"double": true, "float": true, "half_float": true, "scaled_float": true,
	"date": true, "date_nanos": true, "boolean": true, "binary": true, "ip": true,
	"flattened": true, "flat_object": true, "geo_point": true,
}

// parseMapping reads the mappings of an index creation request.
func parseMapping(m map[string]any) (*objectMapping, error) {
	return parseObject(m, "")
}

func parseObject(m map[string]any, at string) (*objectMapping, error) {
	om := &objectMapping{dynamic: "true", fields: map[string]*fieldMapping{}}
	if d, ok := m["dynamic"]; ok {
		om.dynamic = fmt.Sprint(d)
	}
	props, _ := m["properties"].(map[string]any)
	for name, raw := range props {
		spec, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expected map for property [%s] on field [%s]", "fields", at+name)
		}
		f, err := parseField(spec, at+name)
		if err != nil {
			return nil, err
		}
		om.fields[name] = f
	}
	return om, nil
}

func parseField(spec map[string]any, at string) (*fieldMapping, error) {
	f := &fieldMapping{enabled: true, indexed: true}
	f.typ, _ = spec["type"].(string)
	if f.typ == "" {
		f.typ = "object"
	}
	if v, ok := spec["ignore_malformed"].(bool); ok {
		f.ignoreMalformed = v
	}
	if v, ok := spec["enabled"].(bool); ok {
		f.enabled = v
	}
	if v, ok := spec["index"].(bool); ok {
		f.indexed = v
	}
	switch {
	case f.typ == "object" || f.typ == "nested":
		props, err := parseObject(spec, at+".")
		if err != nil {
			return nil, err
		}
		f.props = props
	case !scalarTypes[f.typ]:
		return nil, fmt.Errorf("No handler for type [%s] declared on field [%s]", f.typ, at)
	case f.typ == "scaled_float":
		if _, ok := spec["scaling_factor"]; !ok {
			return nil, fmt.Errorf("Field [scaling_factor] is required")
		}
	}
	if sub, ok := spec["fields"].(map[string]any); ok {
		f.multi = map[string]*fieldMapping{}
		for name, raw := range sub {
			s, _ := raw.(map[string]any)
			m, err := parseField(s, at+"."+name)
			if err != nil {
				return nil, err
			}
			f.multi[name] = m
		}
	}
	return f, nil
}

// parseFailure is why a document does not fit the mapping.
type parseFailure struct {
	typ, reason string
	cause       *parseFailure
}

func (p *parseFailure) body() map[string]any {
	b := map[string]any{"type": p.typ, "reason": p.reason}
	if p.cause != nil {
		b["caused_by"] = p.cause.body()
	}
	return b
}

// parsingType is the error type of a document the mapping refuses; it is
// what changed between OpenSearch and Elasticsearch 8.
func (e *Engine) parsingType() string {
	if e.flavour == Elasticsearch {
		return "document_parsing_exception"
	}
	return "mapper_parsing_exception"
}

// checkDocument parses a source against the index's mapping as the
// engines do, adding dynamic fields where the mapping allows them.
func (e *Engine) checkDocument(ix *index, id string, source map[string]any) *parseFailure {
	return e.checkObject(ix.props, "", id, source)
}

func (e *Engine) checkObject(om *objectMapping, at, id string, obj map[string]any) *parseFailure {
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		value := obj[name]
		f, ok := om.fields[name]
		if !ok {
			switch om.dynamic {
			case "strict":
				return &parseFailure{typ: "strict_dynamic_mapping_exception",
					reason: fmt.Sprintf("mapping set to strict, dynamic introduction of [%s] within [%s] is not allowed",
						name, strings.TrimSuffix(orDoc(at), "."))}
			case "false":
				continue
			}
			f = dynamicField(value)
			if f == nil {
				continue // null or an empty array maps nothing yet
			}
			om.fields[name] = f
		}
		if fail := e.checkValue(f, at+name, id, value); fail != nil {
			return fail
		}
	}
	return nil
}

func orDoc(at string) string {
	if at == "" {
		return "_doc"
	}
	return at
}

// dynamicField maps a new field from its first value, as dynamic: true
// does: strings that look like dates become dates, other strings text
// with a keyword sub-field, whole numbers long, other numbers float.
func dynamicField(value any) *fieldMapping {
	if arr, ok := value.([]any); ok {
		for _, v := range arr {
			if f := dynamicField(v); f != nil {
				return f
			}
		}
		return nil
	}
	f := &fieldMapping{enabled: true, indexed: true}
	switch v := value.(type) {
	case nil:
		return nil
	case bool:
		f.typ = "boolean"
	case json.Number:
		f.typ = "float"
		if _, err := v.Int64(); err == nil {
			f.typ = "long"
		}
	case string:
		if _, ok := parseDate(v); ok && strings.Contains(v, "-") {
			f.typ = "date"
		} else {
			f.typ = "text"
			f.multi = map[string]*fieldMapping{"keyword": {typ: "keyword", enabled: true, indexed: true}}
		}
	case map[string]any:
		f.typ = "object"
		f.props = &objectMapping{dynamic: "true", fields: map[string]*fieldMapping{}}
	}
	return f
}

func (e *Engine) checkValue(f *fieldMapping, field, id string, value any) *parseFailure {
	if arr, ok := value.([]any); ok {
		for _, v := range arr {
			if fail := e.checkValue(f, field, id, v); fail != nil {
				return fail
			}
		}
		return nil
	}
	if value == nil {
		return nil
	}
	if f.typ == "object" || f.typ == "nested" {
		if !f.enabled {
			return nil
		}
		obj, ok := value.(map[string]any)
		if !ok {
			return &parseFailure{typ: e.parsingType(), reason: fmt.Sprintf(
				"object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", field, lastPart(field))}
		}
		return e.checkObject(f.props, field+".", id, obj)
	}
	cause := scalarProblem(f.typ, value)
	if cause == "" || f.ignoreMalformed {
		return nil
	}
	return &parseFailure{typ: e.parsingType(),
		reason: fmt.Sprintf("failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'",
			field, f.typ, id, preview(value)),
		cause: &parseFailure{typ: "illegal_argument_exception", reason: cause}}
}

func lastPart(field string) string {
	return field[strings.LastIndexByte(field, '.')+1:]
}

func preview(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// scalarProblem says why value does not fit a field of type typ, or "".
func scalarProblem(typ string, value any) string {
	if _, isObject := value.(map[string]any); isObject {
		switch typ {
		case "flattened", "flat_object", "geo_point":
			return ""
		}
		return "Can't get text on a START_OBJECT"
	}
	switch typ {
	case "long", "integer", "short", "byte", "unsigned_long", "double", "float", "half_float", "scaled_float":
		if _, ok := number(value); !ok {
			return fmt.Sprintf("For input string: %q", preview(value))
		}
	case "date", "date_nanos":
		if _, ok := dateValue(value); !ok {
			return fmt.Sprintf("failed to parse date field [%s] with format [strict_date_optional_time||epoch_millis]", preview(value))
		}
	case "boolean":
		if _, ok := boolValue(value); !ok {
			return fmt.Sprintf("Failed to parse value [%s] as only [true] or [false] are allowed.", preview(value))
		}
	case "binary":
		s, ok := value.(string)
		if !ok {
			return "binary values must be base64 strings"
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return "failed to decode base64: " + err.Error()
		}
	}
	return ""
}

// number reads a numeric value as the engines coerce it: numbers and
// strings that hold one.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return 0, false
}

func boolValue(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch x {
		case "true":
			return true, true
		case "false", "":
			return false, true
		}
	}
	return false, false
}

// dateLayouts cover strict_date_optional_time as views write it.
var dateLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04",
	"2006-01-02", "2006-01", "2006",
}

func parseDate(s string) (time.Time, bool) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// dateValue reads a date: a formatted string or epoch milliseconds.
func dateValue(v any) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		if t, ok := parseDate(x); ok {
			return t, true
		}
		if ms, err := strconv.ParseInt(x, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC(), true
		}
	case json.Number:
		if ms, err := x.Int64(); err == nil {
			return time.UnixMilli(ms).UTC(), true
		}
	}
	return time.Time{}, false
}
