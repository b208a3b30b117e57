package searchfake

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// queryError is a query the fake cannot run; the engines answer 400.
type queryError struct{ typ, reason string }

func (q *queryError) Error() string { return q.reason }

// scope is where a query's field names are looked up: the document root,
// or one object of a nested field inside a nested query.
type scope struct {
	ix     *index
	id     string
	root   map[string]any
	nested string         // the nested path, "" at the root
	object map[string]any // the nested object in scope
}

func (e *Engine) search(expr string, body []byte, count bool, q string) (int, any) {
	matched, missing := e.resolve(expr)
	if missing != "" {
		return indexNotFound(missing)
	}
	if q != "" {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "illegal_argument_exception",
			"the fake engine does not parse query strings (q=); send a query body")
	}
	var req struct {
		Query map[string]any `json:"query"`
		Size  *int           `json:"size"`
		From  int            `json:"from"`
		Sort  any            `json:"sort"`
		Aggs  map[string]any `json:"aggs"`
		Aggs2 map[string]any `json:"aggregations"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return http.StatusBadRequest, errorBody(http.StatusBadRequest, "parsing_exception", err.Error())
		}
	}
	type hit struct {
		ix *index
		id string
		d  *doc
	}
	var hits []hit
	for _, ix := range matched {
		for _, id := range ix.order {
			d := ix.docs[id]
			ok := true
			if req.Query != nil {
				var err error
				ok, err = matches(req.Query, scope{ix: ix, id: id, root: d.parsed})
				if err != nil {
					qe, _ := err.(*queryError)
					return http.StatusBadRequest, errorBody(http.StatusBadRequest, qe.typ, qe.reason)
				}
			}
			if ok {
				hits = append(hits, hit{ix, id, d})
			}
		}
	}
	shards := map[string]any{"total": len(matched), "successful": len(matched), "skipped": 0, "failed": 0}
	if count {
		return http.StatusOK, map[string]any{"count": len(hits), "_shards": shards}
	}
	sortKeys, err := sortSpec(req.Sort)
	if err != nil {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "parsing_exception", err.Error())
	}
	if len(sortKeys) > 0 {
		sort.SliceStable(hits, func(i, j int) bool {
			for _, k := range sortKeys {
				a := firstValue(scope{ix: hits[i].ix, root: hits[i].d.parsed}, k.field)
				b := firstValue(scope{ix: hits[j].ix, root: hits[j].d.parsed}, k.field)
				if c := compareValues(a, b); c != 0 {
					return (c < 0) != k.desc
				}
			}
			return false
		})
	}
	size := 10
	if req.Size != nil {
		size = *req.Size
	}
	out := []any{}
	for i := req.From; i < len(hits) && i < req.From+size; i++ {
		h := hits[i]
		entry := map[string]any{"_index": h.ix.name, "_id": h.id, "_score": 1.0, "_source": h.d.source}
		if len(sortKeys) > 0 {
			var values []any
			for _, k := range sortKeys {
				values = append(values, firstValue(scope{ix: h.ix, root: h.d.parsed}, k.field))
			}
			entry["sort"], entry["_score"] = values, nil
		}
		out = append(out, entry)
	}
	answer := map[string]any{"took": 1, "timed_out": false, "_shards": shards,
		"hits": map[string]any{"total": map[string]any{"value": len(hits), "relation": "eq"}, "max_score": 1.0, "hits": out}}
	if aggs := req.Aggs; aggs != nil || req.Aggs2 != nil {
		if aggs == nil {
			aggs = req.Aggs2
		}
		var scopes []scope
		for _, h := range hits {
			scopes = append(scopes, scope{ix: h.ix, root: h.d.parsed})
		}
		result, err := aggregate(aggs, scopes)
		if err != nil {
			return http.StatusBadRequest, errorBody(http.StatusBadRequest, "parsing_exception", err.Error())
		}
		answer["aggregations"] = result
	}
	return http.StatusOK, answer
}

type sortKey struct {
	field string
	desc  bool
}

func sortSpec(spec any) ([]sortKey, error) {
	if spec == nil {
		return nil, nil
	}
	list, ok := spec.([]any)
	if !ok {
		list = []any{spec}
	}
	var keys []sortKey
	for _, s := range list {
		switch v := s.(type) {
		case string:
			keys = append(keys, sortKey{field: v})
		case map[string]any:
			for field, order := range v {
				desc := false
				switch o := order.(type) {
				case string:
					desc = o == "desc"
				case map[string]any:
					desc = o["order"] == "desc"
				}
				keys = append(keys, sortKey{field: field, desc: desc})
			}
		default:
			return nil, fmt.Errorf("malformed sort %v", s)
		}
	}
	return keys, nil
}

// aggregate runs terms aggregations, the kind the views' read paths use.
func aggregate(aggs map[string]any, docs []scope) (map[string]any, error) {
	out := map[string]any{}
	for name, raw := range aggs {
		spec, _ := raw.(map[string]any)
		terms, ok := spec["terms"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the fake engine only implements terms aggregations, not %v", spec)
		}
		field, _ := terms["field"].(string)
		size := 10
		if n, ok := number(terms["size"]); ok {
			size = int(n)
		}
		counts := map[string]int{}
		keys := map[string]any{}
		for _, d := range docs {
			f, values := lookup(d, field)
			if f == nil {
				continue
			}
			seen := map[string]bool{}
			for _, v := range values {
				k := preview(v)
				if !seen[k] {
					seen[k] = true
					counts[k]++
					keys[k] = v
				}
			}
		}
		names := make([]string, 0, len(counts))
		for k := range counts {
			names = append(names, k)
		}
		sort.Slice(names, func(i, j int) bool {
			if counts[names[i]] != counts[names[j]] {
				return counts[names[i]] > counts[names[j]]
			}
			return names[i] < names[j]
		})
		buckets := []any{}
		other := 0
		for i, k := range names {
			if i >= size {
				other += counts[k]
				continue
			}
			buckets = append(buckets, map[string]any{"key": keys[k], "doc_count": counts[k]})
		}
		out[name] = map[string]any{"doc_count_error_upper_bound": 0, "sum_other_doc_count": other, "buckets": buckets}
	}
	return out, nil
}

// matches evaluates one query clause against a document in scope.
func matches(q map[string]any, s scope) (bool, error) {
	if len(q) != 1 {
		return false, &queryError{"parsing_exception", fmt.Sprintf("a query clause must hold exactly one query, got %d", len(q))}
	}
	for kind, raw := range q {
		body, _ := raw.(map[string]any)
		switch kind {
		case "match_all":
			return true, nil
		case "match_none":
			return false, nil
		case "bool":
			return matchBool(body, s)
		case "nested":
			return matchNested(body, s)
		case "ids":
			values, _ := body["values"].([]any)
			for _, v := range values {
				if fmt.Sprint(v) == s.id {
					return true, nil
				}
			}
			return false, nil
		case "exists":
			field, _ := body["field"].(string)
			f, values := lookup(s, field)
			return f != nil && len(values) > 0, nil
		case "term", "terms", "match", "match_phrase", "range":
			field, arg, err := fieldArg(kind, body)
			if err != nil {
				return false, err
			}
			f, values := lookup(s, field)
			if f == nil {
				return false, nil
			}
			for _, v := range values {
				if matchValue(kind, f, v, arg) {
					return true, nil
				}
			}
			return false, nil
		}
		return false, &queryError{"parsing_exception", "unknown query [" + kind + "]"}
	}
	return false, nil
}

// fieldArg splits {"field": arg} and {"field": {"query"|"value": arg}}.
func fieldArg(kind string, body map[string]any) (string, any, error) {
	if len(body) != 1 {
		return "", nil, &queryError{"parsing_exception", "[" + kind + "] query doesn't support multiple fields"}
	}
	for field, arg := range body {
		if m, ok := arg.(map[string]any); ok && kind != "range" {
			if v, ok := m["query"]; ok {
				if kind == "match" && m["operator"] != nil {
					return field, matchArgs{query: v, and: strings.EqualFold(fmt.Sprint(m["operator"]), "and")}, nil
				}
				return field, v, nil
			}
			if v, ok := m["value"]; ok {
				return field, v, nil
			}
		}
		return field, arg, nil
	}
	return "", nil, nil
}

type matchArgs struct {
	query any
	and   bool
}

func matchBool(body map[string]any, s scope) (bool, error) {
	clauses := func(key string) []map[string]any {
		var out []map[string]any
		switch v := body[key].(type) {
		case map[string]any:
			out = append(out, v)
		case []any:
			for _, c := range v {
				if m, ok := c.(map[string]any); ok {
					out = append(out, m)
				}
			}
		}
		return out
	}
	required := append(clauses("must"), clauses("filter")...)
	for _, c := range required {
		ok, err := matches(c, s)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, c := range clauses("must_not") {
		ok, err := matches(c, s)
		if err != nil || ok {
			return false, err
		}
	}
	should := clauses("should")
	minimum := 0
	if len(required) == 0 && len(should) > 0 {
		minimum = 1
	}
	if n, ok := number(body["minimum_should_match"]); ok {
		minimum = int(n)
	}
	hits := 0
	for _, c := range should {
		ok, err := matches(c, s)
		if err != nil {
			return false, err
		}
		if ok {
			hits++
		}
	}
	return hits >= minimum, nil
}

func matchNested(body map[string]any, s scope) (bool, error) {
	p, _ := body["path"].(string)
	inner, _ := body["query"].(map[string]any)
	f := s.ix.props.fieldAt(p)
	if f == nil || f.typ != "nested" {
		return false, &queryError{"query_shard_exception", "[nested] failed to find nested object under path [" + p + "]"}
	}
	for _, v := range rawValues(s.root, strings.Split(p, ".")) {
		obj, ok := v.(map[string]any)
		if !ok {
			continue
		}
		ok, err := matches(inner, scope{ix: s.ix, id: s.id, root: s.root, nested: p, object: obj})
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// fieldAt finds the mapping of a dotted field path.
func (om *objectMapping) fieldAt(p string) *fieldMapping {
	parts := strings.Split(p, ".")
	cur := om
	for i, part := range parts {
		f, ok := cur.fields[part]
		if !ok {
			return nil
		}
		if i == len(parts)-1 {
			return f
		}
		if f.props == nil {
			if sub, ok := f.multi[strings.Join(parts[i+1:], ".")]; ok {
				return sub
			}
			return nil
		}
		cur = f.props
	}
	return nil
}

// lookup returns a searchable field's mapping and its values in scope. A
// field that is unmapped, not indexed, or inside a nested field seen from
// outside a nested query has none: the engines index nested objects as
// documents of their own.
func lookup(s scope, field string) (*fieldMapping, []any) {
	f := s.ix.props.fieldAt(field)
	if f == nil || !f.indexed || !f.enabled || f.typ == "object" || f.typ == "nested" {
		return nil, nil
	}
	parts := strings.Split(field, ".")
	var from map[string]any
	switch {
	case s.nested != "" && strings.HasPrefix(field, s.nested+"."):
		from, parts = s.object, strings.Split(strings.TrimPrefix(field, s.nested+"."), ".")
	default:
		// Outside its nested query a nested field's values are invisible.
		for i := 1; i < len(parts); i++ {
			if g := s.ix.props.fieldAt(strings.Join(parts[:i], ".")); g != nil && g.typ == "nested" {
				return nil, nil
			}
		}
		from = s.root
	}
	values := rawValues(from, parts)
	if len(values) == 0 && len(parts) > 1 {
		// A multi-field such as name.keyword reads its parent's value.
		values = rawValues(from, parts[:len(parts)-1])
	}
	var out []any
	for _, v := range values {
		if v != nil {
			out = append(out, v)
		}
	}
	return f, out
}

// rawValues walks a dotted path through objects and arrays.
func rawValues(from map[string]any, parts []string) []any {
	v, ok := from[parts[0]]
	if !ok {
		return nil
	}
	var out []any
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if len(parts) == 1 {
				out = append(out, x)
				return
			}
			out = append(out, rawValues(x, parts[1:])...)
		default:
			if len(parts) == 1 {
				out = append(out, x)
			}
		}
	}
	walk(v)
	return out
}

func firstValue(s scope, field string) any {
	_, values := lookup(s, field)
	if len(values) == 0 {
		return nil
	}
	return values[0]
}

// compareValues orders numbers numerically and the rest as text; missing
// values sort last.
func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	}
	if x, ok := dateValue(a); ok {
		if y, ok := dateValue(b); ok {
			return x.Compare(y)
		}
	}
	return strings.Compare(preview(a), preview(b))
}

// analyze is the standard analyzer, near enough: lowercased runs of
// letters and digits.
func analyze(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func isText(f *fieldMapping) bool { return f.typ == "text" || f.typ == "match_only_text" }

// matchValue applies a term-level or full-text query to one value.
func matchValue(kind string, f *fieldMapping, v, arg any) bool {
	switch kind {
	case "terms":
		list, _ := arg.([]any)
		for _, a := range list {
			if matchValue("term", f, v, a) {
				return true
			}
		}
		return false
	case "term":
		if isText(f) {
			return slices.Contains(analyze(preview(v)), preview(arg))
		}
		return sameValue(f, v, arg)
	case "match", "match_phrase":
		m, isArgs := arg.(matchArgs)
		if isArgs {
			arg = m.query
		}
		if !isText(f) {
			return sameValue(f, v, arg)
		}
		tokens, want := analyze(preview(v)), analyze(preview(arg))
		if len(want) == 0 {
			return false
		}
		if kind == "match_phrase" {
			for i := 0; i+len(want) <= len(tokens); i++ {
				if slices.Equal(tokens[i:i+len(want)], want) {
					return true
				}
			}
			return false
		}
		n := 0
		for _, w := range want {
			if slices.Contains(tokens, w) {
				n++
			}
		}
		if isArgs && m.and {
			return n == len(want)
		}
		return n > 0
	case "range":
		bounds, _ := arg.(map[string]any)
		for op, b := range bounds {
			c := compareTyped(f, v, b)
			ok := true
			switch op {
			case "gt":
				ok = c > 0
			case "gte":
				ok = c >= 0
			case "lt":
				ok = c < 0
			case "lte":
				ok = c <= 0
			}
			if !ok {
				return false
			}
		}
		return true
	}
	return false
}

// sameValue compares a stored value with a query value by the field's
// type.
func sameValue(f *fieldMapping, v, arg any) bool {
	switch f.typ {
	case "boolean":
		x, ok1 := boolValue(v)
		y, ok2 := boolValue(arg)
		if !ok2 {
			y, ok2 = boolValue(preview(arg))
		}
		return ok1 && ok2 && x == y
	}
	return compareTyped(f, v, arg) == 0
}

// compareTyped orders a stored value against a query value by the field's
// type: numbers and dates by value, the rest as exact text.
func compareTyped(f *fieldMapping, v, arg any) int {
	switch f.typ {
	case "long", "integer", "short", "byte", "unsigned_long", "double", "float", "half_float", "scaled_float":
		x, ok1 := number(v)
		y, ok2 := number(arg)
		if ok1 && ok2 {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	case "date", "date_nanos":
		x, ok1 := dateValue(v)
		y, ok2 := dateValue(arg)
		if ok1 && ok2 {
			return x.Compare(y)
		}
	}
	return strings.Compare(preview(v), preview(arg))
}
