package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/state"
)

// BenchmarkEventsVersusRows is the event-sourcing benchmark without
// PostgreSQL, the search engine or a scraper: an orders view joined with
// its customer, kept up to date once by row changes of an orders table
// (rows), once by ItemAdded events folded into an order entity of the
// same columns (events). Each order holds ten items; every change adds or
// replaces one and sums the total, 100 orders a transaction. ns/change of
// the two is the ratio the benchmark's goal is about.
func BenchmarkEventsVersusRows(b *testing.B) {
	for _, events := range []bool{false, true} {
		name := "rows"
		if events {
			name = "events"
		}
		b.Run(name, func(b *testing.B) { benchmarkOrders(b, events) })
	}
}

// orderEvents is the outbox of the event-sourcing benchmark's orders:
// OrderCreated, then ItemAdded appending an item by its sku and summing
// the total.
func orderEvents() config.EventStream {
	return config.EventStream{
		Table:  "outbox",
		Fields: map[string]string{"customer_id": "bigint", "state": "text", "total": "numeric", "items": "jsonb"},
		On: map[string]config.Reducer{
			"OrderCreated": {Set: map[string]string{"customer_id": ".customerId", "state": `"PENDING"`, "total": "0"}},
			"ItemAdded":    {Append: &config.ArrayStep{Field: "items", Key: "sku"}, Set: map[string]string{"total": "($state.total + .price)"}},
		},
		Columns: config.DefaultEventColumns(), OrderBy: "id",
	}
}

func benchmarkOrders(b *testing.B, events bool) {
	stream := orderEvents()
	var entities []Entity
	schema := Schema{"shop": {
		tbl("customers"): {Table: tbl("customers"), Key: []string{"id"}, Unique: [][]string{{"id"}},
			Columns: []capture.Column{{Name: "id", Type: "bigint", Base: "int8"}, {Name: "name", Type: "text", Base: "text"}}},
		tbl("orders"): {Table: tbl("orders"), Key: []string{"id"}, Unique: [][]string{{"id"}},
			Columns: []capture.Column{{Name: "id", Type: "bigint", Base: "int8"}, {Name: "customer_id", Type: "bigint", Base: "int8"},
				{Name: "state", Type: "text", Base: "text"}, {Name: "total", Type: "numeric", Base: "numeric"}, {Name: "items", Type: "jsonb", Base: "jsonb"}}},
	}}
	root := config.TableRef{Source: "shop", Schema: "public", Name: "orders"}
	if events {
		entities = []Entity{{Source: "shop", Name: "order", Stream: stream}}
		AddEntities(schema, entities)
		root = config.EntityRef("shop", "order")
	}
	views, err := Compile([]config.View{{Name: "orders", Root: root, AllColumns: true,
		Relations: []config.Relation{{Name: "customer", Type: config.BelongsTo, Table: config.TableRef{Source: "shop", Schema: "public", Name: "customers"},
			On: []config.JoinPair{{Parent: "customer_id", Related: "id"}}, Fields: []config.Field{{Column: "name", Name: "name"}}}},
	}}, schema)
	if err != nil {
		b.Fatal(err)
	}
	send := benchEngine(b, views, entities, "shop", nil)
	const orders, items = 100, 10
	item := func(round int) string { return fmt.Sprintf(`{"sku": "sku-%d", "qty": 1, "price": 2.5}`, round%items) }
	// The row path's order after round: the items the event path holds.
	order := func(id, round int) capture.Row {
		var list []string
		for r := max(round-items+1, 1); r <= round; r++ {
			list = append(list, item(r))
		}
		return capture.Row{"id": int64(id), "customer_id": int64(id % 10), "state": "PENDING",
			"total": capture.Numeric(fmt.Sprint(2.5 * float64(round))), "items": json.RawMessage("[" + strings.Join(list, ",") + "]")}
	}
	changes := make([]capture.Change, orders)
	customers := make([]capture.Change, 10)
	for i := range customers {
		customers[i] = ins("customers", capture.Row{"id": int64(i), "name": fmt.Sprint("Customer ", i)})
	}
	send(customers)
	next := int64(0)
	change := func(id, round int) capture.Change {
		next++
		switch {
		case !events && round == 0:
			return ins("orders", order(id, 0))
		case !events:
			return upd("orders", order(id, round))
		case round == 0:
			return outbox(next, fmt.Sprint(id), "OrderCreated", fmt.Sprintf(`{"customerId": %d}`, id%10))
		default:
			return outbox(next, fmt.Sprint(id), "ItemAdded", item(round))
		}
	}
	for round := range items + 1 { // every order holds its ten items
		for i := range changes {
			changes[i] = change(i, round)
		}
		send(changes)
	}
	round := items
	for b.Loop() {
		round++
		b.StopTimer()
		for i := range changes {
			changes[i] = change(i, round)
		}
		b.StartTimer()
		send(changes)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*orders), "ns/change")
}

// benchEngine runs an engine over a fresh state for a benchmark, and
// returns a send that applies one transaction of source and returns once
// it is acknowledged. tune, when not nil, adjusts the engine before it runs.
func benchEngine(b *testing.B, views []*View, entities []Entity, source string, tune func(*Engine)) (send func([]capture.Change)) {
	b.Helper()
	store, err := state.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	acked := make(chan capture.LSN, 16)
	engine, err := NewEngine(store, views, newMemoryIndex(), func(_ string, lsn capture.LSN) { acked <- lsn }, Options{Entities: entities},
		NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	if tune != nil {
		tune(engine)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan *capture.Transaction)
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx, in) }()
	b.Cleanup(func() { cancel(); <-done })
	lsn := capture.LSN(100)
	return func(changes []capture.Change) {
		lsn += 10
		in <- &capture.Transaction{Source: source, XID: uint32(lsn), CommitLSN: lsn, EndLSN: lsn, CommitTime: time.Now(), Changes: changes}
		for got := range acked {
			if got >= lsn {
				return
			}
		}
	}
}

// BenchmarkFoldSpread folds ItemAdded events about many more orders than
// the row cache holds the states of, a transaction of 1,000 orders at a
// time in turn, as the event-sourcing benchmark writes them: nearly every
// state is read from the store. ahead reads a transaction's states ahead
// in key order (prefetch), one-by-one as each event comes.
func BenchmarkFoldSpread(b *testing.B) {
	for _, ahead := range []bool{true, false} {
		name := map[bool]string{true: "ahead", false: "one-by-one"}[ahead]
		b.Run(name, func(b *testing.B) { benchmarkFoldSpread(b, ahead) })
	}
}

func benchmarkFoldSpread(b *testing.B, ahead bool) {
	stream := orderEvents()
	entities := []Entity{{Source: "shop", Name: "order", Stream: stream}}
	schema := Schema{}
	AddEntities(schema, entities)
	views, err := Compile([]config.View{{Name: "orders", Root: config.EntityRef("shop", "order"), AllColumns: true}}, schema)
	if err != nil {
		b.Fatal(err)
	}
	var tune func(*Engine)
	if !ahead {
		tune = func(e *Engine) { e.folds.prefetchMin = math.MaxInt }
	}
	apply := benchEngine(b, views, entities, "shop", tune)
	next := int64(0)
	const orders, perTxn = 20000, 1000
	send := func(first, round int) {
		changes := make([]capture.Change, perTxn)
		for i := range changes {
			next++
			id := fmt.Sprint(first + i)
			if round == 0 {
				changes[i] = outbox(next, id, "OrderCreated", `{"customerId": 1}`)
			} else {
				changes[i] = outbox(next, id, "ItemAdded", fmt.Sprintf(`{"sku": "sku-%d", "qty": 1, "price": 2.5}`, round%10))
			}
		}
		apply(changes)
	}
	for round := range 4 {
		for first := 0; first < orders; first += perTxn {
			send(first, round)
		}
	}
	round, first := 4, 0
	for b.Loop() {
		send(first, round)
		if first += perTxn; first == orders {
			first, round = 0, round+1
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perTxn), "ns/event")
}
