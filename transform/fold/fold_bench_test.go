package fold

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// benchStream is the reducer of the event-sourcing benchmark's orders:
// an item appended by key and a total summed by a jq expression.
func benchStream() config.EventStream {
	s := config.EventStream{
		Table:  "outbox",
		Fields: map[string]string{"customer_id": "bigint", "state": "text", "total": "numeric", "items": "jsonb"},
		On: map[string]config.Reducer{
			"OrderCreated": {Set: map[string]string{"customer_id": ".customerId", "state": `"PENDING"`, "total": "0"}},
			"ItemAdded":    {Append: &config.ArrayStep{Field: "items", Key: "sku"}, Set: map[string]string{"total": "($state.total + .price)"}},
		},
	}
	s.Columns = config.DefaultEventColumns()
	return s
}

// BenchmarkFold is the fold package's work for one event of an order
// holding ten items, as the engine does it: the event read from its
// outbox row, the entity's stored state decoded, the event folded, and
// the new state encoded with its row. The sub-benchmarks time each step.
func BenchmarkFold(b *testing.B) {
	s := benchStream()
	r, err := Compile(s)
	if err != nil {
		b.Fatal(err)
	}
	shape := NewShape(s)
	state := map[string]any{"customer_id": 7, "state": "PENDING", "total": 0}
	for i := range 10 {
		ev := Event{Type: "ItemAdded", AggregateID: "7", Payload: map[string]any{"sku": fmt.Sprintf("sku-%d", i), "qty": 1, "price": 2.5}}
		if state, _, err = r.Fold(state, ev); err != nil {
			b.Fatal(err)
		}
	}
	_, encoded, err := shape.EncodedRow("7", state)
	if err != nil {
		b.Fatal(err)
	}
	stored := string(encoded) // as the state store gives it

	row := capture.Row{"id": int64(11), "aggregatetype": "Order", "aggregateid": "7", "type": "ItemAdded",
		"payload": json.RawMessage(`{"sku": "sku-10", "qty": 1, "price": 2.5}`)}
	ev, err := RowEvent(s.Columns, row)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("event", func(b *testing.B) {
		for b.Loop() {
			if _, err := RowEvent(s.Columns, row); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode-state", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeState(stored); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fold", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := r.Fold(state, ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode-row", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := shape.EncodedRow("7", state); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			ev, err := RowEvent(s.Columns, row)
			if err != nil {
				b.Fatal(err)
			}
			st, err := DecodeState(stored)
			if err != nil {
				b.Fatal(err)
			}
			next, _, err := r.Fold(st, ev)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := shape.EncodedRow("7", next); err != nil {
				b.Fatal(err)
			}
		}
	})
}
