// Package fold folds an aggregate's domain events into its current state:
// the entity a view reads like a table row. Fold is a pure function of the
// state and one event, so replaying an aggregate's events in commit order
// always gives the same entity; the engine decides which events to replay.
package fold

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/itchyny/gojq"

	"github.com/projector-dev/projector/config"
)

// Event is one domain event, as read from an event table's row or a
// logical decoding message.
type Event struct {
	ID            string
	Type          string
	AggregateType string
	AggregateID   string
	// Payload is the event's data, decoded from JSON with Decode.
	Payload any
	// Timestamp is when the event happened, as the source wrote it; empty
	// when the stream names no timestamp column.
	Timestamp string
}

// meta is what jq expressions see of the event besides its payload.
func (e Event) meta() map[string]any {
	return map[string]any{"id": e.ID, "type": e.Type, "aggregate_id": e.AggregateID,
		"aggregate_type": e.AggregateType, "timestamp": e.Timestamp}
}

// Outcome is what an event did to its entity.
type Outcome int

// The outcomes of folding one event.
const (
	// Ignored: the event's type has no reducer and the stream is not
	// strict; the entity is unchanged.
	Ignored Outcome = iota
	// Upserted: the entity exists with the returned state.
	Upserted
	// Deleted: the entity no longer exists.
	Deleted
)

// Reducer folds the events of one entity type.
type Reducer struct {
	strict bool
	steps  map[string]*step
}

// step is one event type's compiled reducer.
type step struct {
	set    []assignment
	unset  []string
	append *arrayStep
	remove *arrayStep
	delete bool
	jq     *gojq.Code
}

type assignment struct {
	field string
	value *expr
}

type arrayStep struct {
	field, key string
	value      *expr
}

// expr is a compiled expression. The common ones, a field of the payload
// (".sku", ".customer.id"), the payload itself (".") and a JSON literal
// ('"PENDING"', 0), are evaluated without the jq interpreter, which
// costs more than the rest of a fold; they give what jq gives.
type expr struct {
	code    *gojq.Code
	path    []string // a path of object keys; empty for "."
	literal any
	simple  bool // path or literal applies
	isLit   bool
	// sum is set for a sum or difference of two operands, each a path of
	// the payload or of $state, or a number ("$state.total + .price"):
	// evaluated directly when both are int or float64 and an int result
	// does not overflow, else by jq.
	sum *sum
}

// simplePath matches ".", ".a" and ".a.b" with identifier keys.
var simplePath = regexp.MustCompile(`^\.$|^(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

// simpleSum matches "a + b" and "a - b", optionally in parentheses, where
// each operand is a payload path (".a.b"), a $state path ("$state.a") or a
// number.
var simpleSum = regexp.MustCompile(`^(?:\(\s*(` + operand + `)\s*([+-])\s*(` + operand + `)\s*\)|(` + operand + `)\s*([+-])\s*(` + operand + `))$`)

const operand = `(?:\$state)?(?:\.[A-Za-z_][A-Za-z0-9_]*)+|-?[0-9]+(?:\.[0-9]+)?`

// sum is a compiled simpleSum.
type sum struct {
	minus bool
	l, r  sumOperand
}

type sumOperand struct {
	state   bool     // a path of $state, not of the payload
	path    []string // empty for a number
	literal any
}

func compileSum(src string) *sum {
	m := simpleSum.FindStringSubmatch(src)
	if m == nil {
		return nil
	}
	l, op, r := m[1], m[2], m[3]
	if l == "" {
		l, op, r = m[4], m[5], m[6]
	}
	compile := func(o string) (sumOperand, bool) {
		if rest, ok := strings.CutPrefix(o, "$state"); ok {
			return sumOperand{state: true, path: strings.Split(rest[1:], ".")}, true
		}
		if o[0] == '.' {
			return sumOperand{path: strings.Split(o[1:], ".")}, true
		}
		v, err := Decode([]byte(o))
		return sumOperand{literal: v}, err == nil
	}
	lo, lok := compile(l)
	ro, rok := compile(r)
	if !lok || !rok {
		return nil
	}
	return &sum{minus: op == "-", l: lo, r: ro}
}

// eval gives what jq gives for the sum, or false when jq must decide: an
// operand that is not an int or a float64 (null, a big number, a string,
// a path through a non-object), or an int result that overflows.
func (s *sum) eval(input any, state map[string]any) (any, bool) {
	l, lok := s.l.value(input, state)
	r, rok := s.r.value(input, state)
	if !lok || !rok {
		return nil, false
	}
	li, lint := l.(int)
	ri, rint := r.(int)
	if lint && rint {
		if s.minus {
			v := li - ri
			return v, (v <= li) == (ri >= 0)
		}
		v := li + ri
		return v, (v >= li) == (ri >= 0)
	}
	lf, lok := toFloat(l)
	rf, rok := toFloat(r)
	if !lok || !rok {
		return nil, false
	}
	if s.minus {
		return lf - rf, true
	}
	return lf + rf, true
}

func (o sumOperand) value(input any, state map[string]any) (any, bool) {
	if len(o.path) == 0 {
		return o.literal, true
	}
	v := input
	if o.state {
		v = state
	}
	for _, k := range o.path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		v = obj[k]
	}
	return v, true
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func compileExpr(src string) (*expr, error) {
	code, err := config.CompileExpression(src)
	if err != nil {
		return nil, err
	}
	e := &expr{code: code}
	trimmed := strings.TrimSpace(src)
	switch {
	case simplePath.MatchString(trimmed):
		e.simple = true
		if trimmed != "." {
			e.path = strings.Split(trimmed[1:], ".")
		}
	case simpleSum.MatchString(trimmed):
		e.sum = compileSum(trimmed)
	default:
		if v, err := Decode([]byte(trimmed)); err == nil {
			switch v.(type) {
			case map[string]any, []any:
				// Left to jq: an object or array literal may hold
				// expressions JSON does not.
			default:
				e.simple, e.isLit, e.literal = true, true, v
			}
		}
	}
	return e, nil
}

// Compile compiles a stream's reducer. The configuration has checked every
// expression already; an error here means it was built in code unchecked.
func Compile(s config.EventStream) (*Reducer, error) {
	r := &Reducer{strict: s.Strict, steps: map[string]*step{}}
	for _, typ := range slices.Sorted(maps.Keys(s.On)) {
		st, err := compileStep(s.On[typ])
		if err != nil {
			return nil, fmt.Errorf("reducer of event type %s: %w", typ, err)
		}
		r.steps[typ] = st
	}
	return r, nil
}

func compileStep(c config.Reducer) (*step, error) {
	st := &step{unset: c.Unset, delete: c.Delete}
	var errs []error
	compile := func(src string) *expr {
		e, err := compileExpr(src)
		errs = append(errs, err)
		return e
	}
	for _, field := range slices.Sorted(maps.Keys(c.Set)) {
		st.set = append(st.set, assignment{field: field, value: compile(c.Set[field])})
	}
	if a := c.Append; a != nil {
		st.append = &arrayStep{field: a.Field, key: a.Key, value: compile(defaultExpr(a.Value, "."))}
	}
	if rm := c.Remove; rm != nil {
		st.remove = &arrayStep{field: rm.Field, key: rm.Key, value: compile(defaultExpr(rm.Value, "."+jqKey(rm.Key)))}
	}
	if c.JQ != "" {
		e := compile(c.JQ)
		if e != nil {
			st.jq = e.code
		}
	}
	return st, errors.Join(errs...)
}

func defaultExpr(src, def string) string {
	if src == "" {
		return def
	}
	return src
}

// jqKey writes a field name as a jq object key.
func jqKey(name string) string {
	b, _ := json.Marshal(name) //nolint:errchkjson // a string always marshals
	return string(b)
}

// Fold applies one event to an entity's state (nil when the entity does
// not exist) and returns the new state. It never changes state. An error
// (an unknown type when strict, an expression that fails, a result of the
// wrong shape) leaves the entity as it was.
func (r *Reducer) Fold(state map[string]any, ev Event) (map[string]any, Outcome, error) {
	st, ok := r.steps[ev.Type]
	if !ok {
		if r.strict {
			return nil, Ignored, fmt.Errorf("event type %q has no reducer and the stream is strict: add it under on, or turn strict off", ev.Type)
		}
		return state, Ignored, nil
	}
	if st.delete {
		return nil, Deleted, nil
	}
	if st.jq != nil {
		state := decodedState(state) // jq sees every value decoded
		input := map[string]any{"state": orEmpty(state), "event": ev.Payload, "meta": ev.meta()}
		out, err := runCode(st.jq, input, state, ev)
		if err != nil {
			return nil, Ignored, fmt.Errorf("jq reducer of %s: %w", ev.Type, err)
		}
		switch o := out.(type) {
		case nil:
			return nil, Deleted, nil
		case map[string]any:
			return o, Upserted, nil
		default:
			return nil, Ignored, fmt.Errorf("jq reducer of %s returned %s; it must return the new state as an object, or null to delete the entity", ev.Type, kind(out))
		}
	}
	next := make(map[string]any, len(state)+len(st.set))
	maps.Copy(next, state)
	for _, a := range st.set {
		v, err := run(a.value, ev.Payload, state, ev)
		if err != nil {
			return nil, Ignored, fmt.Errorf("set %s on %s: %w", a.field, ev.Type, err)
		}
		next[a.field] = v
	}
	for _, f := range st.unset {
		delete(next, f)
	}
	if a := st.append; a != nil {
		item, err := run(a.value, ev.Payload, state, ev)
		if err != nil {
			return nil, Ignored, fmt.Errorf("append to %s on %s: %w", a.field, ev.Type, err)
		}
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, Ignored, fmt.Errorf("append to %s on %s: the element is %s; it must be an object with the key %q", a.field, ev.Type, kind(item), a.key)
		}
		list, err := array(next, a.field)
		if err != nil {
			return nil, Ignored, fmt.Errorf("append on %s: %w", ev.Type, err)
		}
		key := obj[a.key]
		// The elements kept and the new one, in one allocation: Clone and
		// append would copy the list twice.
		kept := make([]any, 0, len(list)+1)
		for _, e := range list {
			if !sameKey(e, a.key, key) {
				kept = append(kept, e)
			}
		}
		next[a.field] = append(kept, obj)
	}
	if rm := st.remove; rm != nil {
		key, err := run(rm.value, ev.Payload, state, ev)
		if err != nil {
			return nil, Ignored, fmt.Errorf("remove from %s on %s: %w", rm.field, ev.Type, err)
		}
		list, err := array(next, rm.field)
		if err != nil {
			return nil, Ignored, fmt.Errorf("remove on %s: %w", ev.Type, err)
		}
		next[rm.field] = slices.DeleteFunc(slices.Clone(list), func(e any) bool { return sameKey(e, rm.key, key) })
	}
	return next, Upserted, nil
}

// Types lists the event types the reducer knows, sorted: the values of the
// type label of projector_events_total besides "other".
func (r *Reducer) Types() []string { return slices.Sorted(maps.Keys(r.steps)) }

func orEmpty(state map[string]any) map[string]any {
	if state == nil {
		return map[string]any{}
	}
	return state
}

// run evaluates an expression over input.
func run(e *expr, input any, state map[string]any, ev Event) (any, error) {
	if e.simple {
		if e.isLit {
			return e.literal, nil
		}
		v := input
		for _, k := range e.path {
			switch o := v.(type) {
			case nil:
			case map[string]any:
				v = o[k]
			default:
				return runCode(e.code, input, state, ev) // jq's own error
			}
		}
		return v, nil
	}
	if e.sum != nil {
		if v, ok := e.sum.eval(input, state); ok {
			return v, nil
		}
	}
	return runCode(e.code, input, state, ev)
}

// runCode evaluates a jq expression and returns its only value: an
// expression giving no value or several is an error, since a field holds
// one.
func runCode(code *gojq.Code, input any, state map[string]any, ev Event) (any, error) {
	iter := code.Run(input, orEmpty(decodedState(state)), ev.meta())
	v, ok := iter.Next()
	if !ok {
		return nil, errors.New("the expression gave no value")
	}
	if err, isErr := v.(error); isErr {
		return nil, err
	}
	if extra, more := iter.Next(); more {
		if err, isErr := extra.(error); isErr {
			return nil, err
		}
		return nil, errors.New("the expression gave several values; make it give one, e.g. with first(...) or [...]")
	}
	return v, nil
}

// array returns the array field of a state; a missing field is empty.
func array(state map[string]any, field string) ([]any, error) {
	switch v := state[field].(type) {
	case nil:
		return nil, nil
	case []any:
		return v, nil
	default:
		return nil, fmt.Errorf("field %s is %s, not an array", field, kind(v))
	}
}

// sameKey reports whether element e is an object whose key field equals
// key. Numbers compare by value, whatever their Go type.
func sameKey(e any, keyField string, key any) bool {
	if enc, ok := e.(*encodedObject); ok {
		if k, ok := key.(string); ok {
			if is, known := enc.stringFieldIs(keyField, k); known {
				return is
			}
		}
		if v, ok := enc.field(keyField); ok {
			return gojqEqual(v, key)
		}
		e, _ = decoded(enc)
	}
	obj, ok := e.(map[string]any)
	if !ok {
		return false
	}
	return gojqEqual(obj[keyField], key)
}

func gojqEqual(a, b any) bool {
	// The usual keys, strings and small whole numbers, compare directly.
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int:
		if y, ok := b.(int); ok {
			return x == y
		}
	}
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x.Cmp(y) == 0
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (*big.Float, bool) {
	switch n := v.(type) {
	case int:
		return new(big.Float).SetInt64(int64(n)), true
	case float64:
		if math.IsNaN(n) {
			return nil, false
		}
		return big.NewFloat(n), true
	case *big.Int:
		return new(big.Float).SetInt(n), true
	}
	return nil, false
}

// kind names a value's JSON type for errors.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any, *encodedObject:
		return "an object"
	default:
		return "a number"
	}
}

// Decode reads JSON into the values jq works on: objects, arrays, strings,
// booleans, null, and numbers as int when whole and small enough, else
// float64 (a *big.Int past int64 keeps its digits).
func Decode(data []byte) (any, error) {
	if v, ok := parseJSON(data); ok {
		return v, nil
	}
	// What parseJSON leaves, encoding/json decides, with its errors.
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	if d.More() {
		return nil, errors.New("decode JSON: more than one value")
	}
	return normalise(v), nil
}

func normalise(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		if b, ok := new(big.Int).SetString(string(x), 10); ok {
			return b
		}
		f, _ := x.Float64() //nolint:errcheck // json.Number is a valid number; out of range gives ±Inf
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalise(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalise(e)
		}
	}
	return v
}
