package fold

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// orders is the reducer of an event-sourced order.
func orders(strict bool) config.EventStream {
	return config.EventStream{
		Table:  "outbox",
		Strict: strict,
		Fields: map[string]string{"consumer_id": "bigint", "state": "text", "total": "numeric", "items": "jsonb"},
		On: map[string]config.Reducer{
			"OrderCreated":   {Set: map[string]string{"consumer_id": ".consumerId", "state": `"PENDING"`, "total": ".total"}},
			"ItemAdded":      {Append: &config.ArrayStep{Field: "items", Key: "sku"}},
			"ItemRemoved":    {Remove: &config.ArrayStep{Field: "items", Key: "sku"}},
			"OrderApproved":  {Set: map[string]string{"state": `"APPROVED"`}, Unset: []string{"coupon"}},
			"OrderCancelled": {Delete: true},
			"Repriced":       {JQ: `.state + {total: (.state.total * .event.factor)}`},
			"Forgotten":      {JQ: `if .meta.type == "Forgotten" then null else .state end`},
			"Renamed":        {JQ: `.event.name`},
			"Split":          {Set: map[string]string{"state": ".states[]"}},
		},
	}
}

func payload(t *testing.T, s string) any {
	t.Helper()
	v, err := Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFold(t *testing.T) {
	created := map[string]any{"consumer_id": 7, "state": "PENDING", "total": 10}
	withItem := map[string]any{"consumer_id": 7, "state": "PENDING", "total": 10,
		"items": []any{map[string]any{"sku": "a", "qty": 1}}}
	tests := []struct {
		name    string
		strict  bool
		state   map[string]any
		typ     string
		payload string
		want    map[string]any
		outcome Outcome
		err     string
	}{
		{name: "create", typ: "OrderCreated", payload: `{"consumerId": 7, "total": 10}`, want: created, outcome: Upserted},
		{name: "append to a missing array", state: created, typ: "ItemAdded", payload: `{"sku": "a", "qty": 1}`, want: withItem, outcome: Upserted},
		{name: "append replaces the same key", state: withItem, typ: "ItemAdded", payload: `{"sku": "a", "qty": 3}`,
			want: map[string]any{"consumer_id": 7, "state": "PENDING", "total": 10, "items": []any{map[string]any{"sku": "a", "qty": 3}}}, outcome: Upserted},
		{name: "append another key", state: withItem, typ: "ItemAdded", payload: `{"sku": "b", "qty": 2}`,
			want: map[string]any{"consumer_id": 7, "state": "PENDING", "total": 10,
				"items": []any{map[string]any{"sku": "a", "qty": 1}, map[string]any{"sku": "b", "qty": 2}}}, outcome: Upserted},
		{name: "remove by key", state: withItem, typ: "ItemRemoved", payload: `{"sku": "a"}`,
			want: map[string]any{"consumer_id": 7, "state": "PENDING", "total": 10, "items": []any{}}, outcome: Upserted},
		{name: "remove a missing key", state: withItem, typ: "ItemRemoved", payload: `{"sku": "z"}`, want: withItem, outcome: Upserted},
		{name: "set and unset", state: map[string]any{"state": "PENDING", "coupon": "X"}, typ: "OrderApproved", payload: `{}`,
			want: map[string]any{"state": "APPROVED"}, outcome: Upserted},
		{name: "delete", state: created, typ: "OrderCancelled", payload: `{}`, outcome: Deleted},
		{name: "jq", state: created, typ: "Repriced", payload: `{"factor": 1.5}`,
			want: map[string]any{"consumer_id": 7, "state": "PENDING", "total": 15.0}, outcome: Upserted},
		{name: "jq null deletes", state: created, typ: "Forgotten", payload: `{}`, outcome: Deleted},
		{name: "unknown type ignored", state: created, typ: "Shipped", payload: `{}`, want: created, outcome: Ignored},
		{name: "unknown type when strict", strict: true, state: created, typ: "Shipped", payload: `{}`,
			err: `event type "Shipped" has no reducer and the stream is strict: add it under on, or turn strict off`},
		{name: "jq error", state: map[string]any{"total": []any{1}}, typ: "Repriced", payload: `{"factor": 2}`,
			err: `jq reducer of Repriced: cannot multiply: array ([1]) and number (2)`},
		{name: "jq result not an object", state: created, typ: "Renamed", payload: `{"name": "x"}`,
			err: `jq reducer of Renamed returned a string; it must return the new state as an object, or null to delete the entity`},
		{name: "append a non-object", state: created, typ: "ItemAdded", payload: `"a"`,
			err: `append to items on ItemAdded: the element is a string; it must be an object with the key "sku"`},
		{name: "append to a non-array", state: map[string]any{"items": "none"}, typ: "ItemAdded", payload: `{"sku": "a"}`,
			err: `append on ItemAdded: field items is a string, not an array`},
		{name: "several values", state: created, typ: "Split", payload: `{"states": ["A", "B"]}`,
			err: `set state on Split: the expression gave several values; make it give one, e.g. with first(...) or [...]`},
		{name: "no value", state: created, typ: "Split", payload: `{"states": []}`,
			err: `set state on Split: the expression gave no value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compile(orders(tt.strict))
			if err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(tt.state)
			got, outcome, err := r.Fold(tt.state, Event{Type: tt.typ, AggregateID: "1", Payload: payload(t, tt.payload)})
			if after, _ := json.Marshal(tt.state); string(after) != string(before) {
				t.Errorf("Fold changed its input state: %s, was %s", after, before)
			}
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if outcome != tt.outcome {
				t.Errorf("outcome = %v, want %v", outcome, tt.outcome)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFoldSequence folds a whole order's life and the same events again
// from scratch: the state depends on the events alone.
func TestFoldSequence(t *testing.T) {
	r, err := Compile(orders(true))
	if err != nil {
		t.Fatal(err)
	}
	events := []struct{ typ, payload string }{
		{"OrderCreated", `{"consumerId": 3, "total": "12.50"}`},
		{"ItemAdded", `{"sku": "a", "qty": 1}`},
		{"ItemAdded", `{"sku": "b", "qty": 2}`},
		{"ItemRemoved", `{"sku": "a"}`},
		{"OrderApproved", `{}`},
	}
	var state map[string]any
	for _, e := range events {
		if state, _, err = r.Fold(state, Event{Type: e.typ, Payload: payload(t, e.payload)}); err != nil {
			t.Fatal(err)
		}
	}
	row, err := NewShape(orders(true)).Row("42", state)
	if err != nil {
		t.Fatal(err)
	}
	want := capture.Row{"id": "42", "consumer_id": int64(3), "state": "APPROVED", "total": capture.Numeric("12.50"),
		"items": json.RawMessage(`[{"qty":2,"sku":"b"}]`)}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}

func TestShapeRow(t *testing.T) {
	sh := NewShape(config.EventStream{Fields: map[string]string{
		"n": "bigint", "x": "double precision", "ok": "boolean", "at": "timestamptz", "name": "text", "amount": "numeric", "id": "bigint",
	}})
	row, err := sh.Row("17", map[string]any{"n": 2.0, "x": 1, "ok": true, "at": "2026-01-02T03:04:05Z", "name": 5, "amount": 1.25, "extra": []any{1}, "gone": nil})
	if err != nil {
		t.Fatal(err)
	}
	want := capture.Row{"id": int64(17), "n": int64(2), "x": 1.0, "ok": true, "at": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"name": "5", "amount": capture.Numeric("1.25"), "extra": json.RawMessage(`[1]`), "gone": nil}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		state map[string]any
		err   string
	}{
		{map[string]any{"n": 2.5}, "field n: 2.5 is not a whole number"},
		{map[string]any{"ok": "yes"}, "field ok: is a string, not bool"},
		{map[string]any{"at": "yesterday"}, `field at: "yesterday" is not an RFC 3339 time`},
		{map[string]any{"name": map[string]any{}}, "field name: is an object, not text"},
	} {
		if _, err := sh.Row("1", tt.state); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Row(%v) error = %v, want %s", tt.state, err, tt.err)
		}
	}
	if _, err := sh.Row("x", nil); err == nil || err.Error() != `aggregate id "x": "x" is not a whole number` {
		t.Errorf("a key that is no bigint: %v", err)
	}
}

// TestSimpleExpressionsMatchJQ: the expressions evaluated without the
// interpreter give what jq gives, errors included.
func TestSimpleExpressionsMatchJQ(t *testing.T) {
	inputs := []string{`{"a": {"b": 1}, "s": "x"}`, `{"a": null}`, `null`, `{"a": "str"}`, `[1]`, `{"a": {"b": [1, {"c": 2}]}}`}
	for _, src := range []string{".", ".a", ".a.b", ".s", `"PENDING"`, "0", "12.5", "true", "null", " .a "} {
		e, err := compileExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		if !e.simple {
			t.Errorf("%q is not evaluated without the interpreter", src)
		}
		for _, in := range inputs {
			input := payload(t, in)
			got, gotErr := run(e, input, nil, Event{})
			want, wantErr := runCode(e.code, input, nil, Event{})
			if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) || !cmp.Equal(got, want) {
				t.Errorf("%s on %s: got %v, %v; jq gives %v, %v", src, in, got, gotErr, want, wantErr)
			}
		}
	}
	for _, src := range []string{".a + 1", `{a: 1}`, "[.a]", ".a[0]", `."a b"`} {
		if e, err := compileExpr(src); err != nil || e.simple {
			t.Errorf("%q: simple=%v, err=%v; want it left to jq", src, e != nil && e.simple, err)
		}
	}
}
