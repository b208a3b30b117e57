package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// eventsExample is a valid file with an entity folded from an outbox table
// and one folded from logical decoding messages.
const eventsExample = `sources:
  orders:
    dsn: "postgres://postgres@127.0.0.1:5433/orders"
    events:
      order:
        table: public.outbox
        aggregate_type: Order
        strict: true
        fields: { consumer_id: bigint, state: text, total: numeric, items: jsonb }
        on:
          OrderCreated:   { set: { consumer_id: .consumerId, state: '"PENDING"', total: .total } }
          ItemAdded:      { append: { field: items, key: sku } }
          ItemRemoved:    { remove: { field: items, key: sku } }
          OrderApproved:  { set: { state: '"APPROVED"' } }
          OrderCancelled: { delete: true }
          Repriced:       { jq: '.state + {total: (.state.total * .event.factor)}' }
      payment:
        message_prefix: payments
        columns: { aggregate_id: order_id }
        on:
          PaymentTaken: { set: { amount: .amount } }
  consumers:
    dsn: "postgres://postgres@127.0.0.1:5434/consumers"
sink:
  urls: ["http://127.0.0.1:9200"]
views:
  - name: order_history
    root: { source: orders, entity: order }
    relations:
      - name: consumer
        type: belongs_to
        source: consumers
        table: consumers
        on: { consumer_id: id }
      - name: payment
        type: has_one
        source: orders
        entity: payment
        on: { id: id }
`

func loadEvents(t *testing.T, edit func(string) string) (*Config, string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "projector.yaml")
	if err := os.WriteFile(file, []byte(edit(eventsExample)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(file)
	return cfg, file, err
}

func TestLoadEvents(t *testing.T) {
	cfg, _, err := loadEvents(t, func(s string) string { return s })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	order := cfg.Sources["orders"].Events["order"]
	if order.Columns != (EventColumns{ID: "id", Type: "type", AggregateType: "aggregatetype", AggregateID: "aggregateid", Payload: "payload"}) {
		t.Errorf("default columns = %+v", order.Columns)
	}
	if order.OrderBy != "id" {
		t.Errorf("order_by defaults to %q, want the id column", order.OrderBy)
	}
	if order.Keep != KeepAll {
		t.Errorf("keep defaults to %q, want all: losing history silently is the worse default", order.Keep)
	}
	if got := cfg.Sources["orders"].Events["payment"].Columns.AggregateID; got != "order_id" {
		t.Errorf("payment aggregate_id column = %q", got)
	}
	if root := cfg.Views[0].Root; root != EntityRef("orders", "order") || !root.IsEntity() {
		t.Errorf("root = %+v, want the order entity", root)
	}
	// The publication needs the outbox, and no table for the messages.
	want := map[string][]TableRef{
		"orders":    {{Source: "orders", Schema: "public", Name: "outbox"}},
		"consumers": {{Source: "consumers", Schema: "public", Name: "consumers"}},
	}
	got := cfg.TablesBySource()
	for source, tables := range want {
		if !slices.Equal(got[source], tables) {
			t.Errorf("TablesBySource()[%s] = %v, want %v", source, got[source], tables)
		}
	}
}

func TestLoadEventsProblems(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"bad jq", `total: .total }`, `total: .total +}`,
			`FILE:11:82: sources.orders.events.order.on.OrderCreated.set.total: jq expression ".total +" does not parse at character 8: unexpected EOF; fix the jq expression`},
		{"unknown jq variable", `.state.total * .event.factor`, `$total * .event.factor`,
			`FILE:16:29: sources.orders.events.order.on.Repriced.jq: jq expression ".state + {total: ($total * .event.factor)}" does not compile: variable not defined: $total; fix the jq expression`},
		{"table and prefix", `table: public.outbox`, "table: public.outbox\n        message_prefix: orders",
			`FILE:7:9: sources.orders.events.order.message_prefix: is set together with table; an entity folds the events of one table or of one message prefix`},
		{"neither table nor prefix", `message_prefix: payments`, `strict: false`,
			`FILE:17:7: sources.orders.events.payment: names no events; set table (an outbox or event store table) or message_prefix (pg_logical_emit_message)`},
		{"field type", `total: numeric`, `total: money`,
			`FILE:9:53: sources.orders.events.order.fields.total: "money" is not an entity field type; use one of bigint, boolean, double precision, integer, jsonb, numeric, text, timestamptz`},
		{"delete and set", `{ delete: true }`, `{ delete: true, set: { state: '"X"' } }`,
			`FILE:15:29: sources.orders.events.order.on.OrderCancelled.delete: is combined with other steps; a deleting event does nothing else, remove them`},
		{"empty reducer", `{ delete: true }`, `{}`,
			`FILE:15:11: sources.orders.events.order.on.OrderCancelled: does nothing; use set, unset, append, remove, delete or jq (an event type to ignore need not be listed unless strict)`},
		{"set the key", `{ set: { state: '"APPROVED"' } }`, `{ set: { id: '"x"' } }`,
			`FILE:14:36: sources.orders.events.order.on.OrderApproved.set.id: is the entity's key, the aggregate id of its events; it cannot be set`},
		{"unknown reducer key", `{ delete: true }`, `{ drop: true }`,
			`FILE:15:29: unknown key "drop" in sources.orders.events.order.on.OrderCancelled; valid keys there are append, delete, jq, remove, set, unset`},
		{"append without key", `{ append: { field: items, key: sku } }`, `{ append: { field: items } }`,
			`FILE:12:29: sources.orders.events.order.on.ItemAdded.append.key: must name the field that identifies an element, e.g. sku`},
		{"keep", `strict: true`, "strict: true\n        keep: some",
			`FILE:9:9: sources.orders.events.order.keep: is "some"; use all (keep every event, so a changed reducer folds the entity again from all of them) or none`},
		{"unknown entity", `root: { source: orders, entity: order }`, `root: { source: orders, entity: ordr }`,
			`FILE:28:29: views[0].root.entity: entity "ordr" is not declared in source "orders" (did you mean "order"?); use one of order, payment, or declare it under sources.orders.events`},
		{"table and entity", `entity: payment`, "entity: payment\n        table: payments",
			`FILE:38:9: views[0].relations[1].entity: names both a table and entity "payment"; a view reads one of them, remove the other`},
		{"entity name", "      payment:\n", "      Payment:\n",
			`FILE:17:7: sources.orders.events.Payment: "Payment" is not a valid entity name; use lowercase letters, digits and "_", not starting with a digit
FILE:38:9: views[0].relations[1].entity: entity "payment" is not declared in source "orders" (did you mean "Payment"?); use one of Payment, order, or declare it under sources.orders.events`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, file, err := loadEvents(t, replace(t, tt.old, tt.new))
			if err == nil {
				t.Fatalf("loaded without error, want:\n%s", tt.want)
			}
			if got := strings.ReplaceAll(err.Error(), file, "FILE"); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestEffectiveReloadsEvents: config print shows event streams and views
// over entities as a file that loads back to the same configuration.
func TestEffectiveReloadsEvents(t *testing.T) {
	cfg, _, err := loadEvents(t, func(s string) string { return s })
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	again := reload(t, out)
	opts := cmp.Options{cmpopts.EquateEmpty(), cmpopts.IgnoreTypes(Pos{}), cmpopts.IgnoreFields(Config{}, "File"), cmpopts.IgnoreUnexported(Config{})}
	if diff := cmp.Diff(cfg, again, opts); diff != "" {
		t.Errorf("reloaded configuration differs (-printed +reloaded):\n%s\n%s", diff, out)
	}
}
