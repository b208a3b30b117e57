package transform

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/state"
)

// BenchmarkBuildDocument renders one order_history document from the
// store: the order, its consumer and restaurant, three line items with
// their menu items, and its delivery. This is the work each changed
// document costs the transform stage, apart from applying the change.
func BenchmarkBuildDocument(b *testing.B) {
	store, err := state.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	views := []*View{orderHistory()}
	acked := make(chan capture.LSN, 16)
	engine, err := NewEngine(store, views, newMemoryIndex(), func(_ string, lsn capture.LSN) { acked <- lsn }, Options{},
		NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan *capture.Transaction)
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx, in) }()
	defer func() { cancel(); <-done }()

	lsn := capture.LSN(100)
	send := func(source string, changes ...capture.Change) {
		lsn += 10
		in <- &capture.Transaction{Source: source, XID: uint32(lsn), CommitLSN: lsn, EndLSN: lsn,
			CommitTime: time.Now(), Changes: changes}
		for got := range acked {
			if got >= lsn {
				return
			}
		}
	}
	send("consumers", ins("consumers", capture.Row{"id": int64(7), "name": "Ada Lovelace", "email": "ada@example.com"}))
	send("restaurants",
		ins("restaurants", capture.Row{"id": int64(3), "name": "Pho 99"}),
		ins("menu_items", capture.Row{"id": int64(30), "restaurant_id": int64(3), "name": "pho"}),
		ins("menu_items", capture.Row{"id": int64(31), "restaurant_id": int64(3), "name": "banh mi"}),
		ins("menu_items", capture.Row{"id": int64(32), "restaurant_id": int64(3), "name": "spring rolls"}))
	send("orders",
		ins("orders", capture.Row{"id": int64(1), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "paid", "total_cents": int64(3150)}),
		ins("order_line_items", capture.Row{"id": int64(10), "order_id": int64(1), "menu_item_id": int64(30), "quantity": int64(2)}),
		ins("order_line_items", capture.Row{"id": int64(11), "order_id": int64(1), "menu_item_id": int64(31), "quantity": int64(1)}),
		ins("order_line_items", capture.Row{"id": int64(12), "order_id": int64(1), "menu_item_id": int64(32), "quantity": int64(3)}))
	send("deliveries", ins("deliveries", capture.Row{"id": int64(100), "order_id": int64(1), "status": "delivered"}))

	var size int
	builder := newDocBuilder(store.Snapshot(state.ReadUncached))
	defer builder.Close()
	for b.Loop() {
		doc, err := builder.build(views[0], "[1]")
		if err != nil || doc == nil {
			b.Fatalf("build document: %v %s", err, doc)
		}
		size = len(doc)
	}
	b.ReportMetric(float64(size), "doc-bytes")
}

// BenchmarkApplyChanges streams transactions of 100 updates to orders,
// each changing one document, through the engine to an in-memory index:
// the work per streamed change, from applying it to the state to its
// document's acknowledgement.
func BenchmarkApplyChanges(b *testing.B) {
	store, err := state.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	acked := make(chan capture.LSN, 16)
	engine, err := NewEngine(store, []*View{orderHistory()}, newMemoryIndex(), func(_ string, lsn capture.LSN) { acked <- lsn }, Options{},
		NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan *capture.Transaction)
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx, in) }()
	defer func() { cancel(); <-done }()

	lsn := capture.LSN(100)
	send := func(changes []capture.Change) {
		lsn += 10
		in <- &capture.Transaction{Source: "orders", XID: uint32(lsn), CommitLSN: lsn, EndLSN: lsn,
			CommitTime: time.Now(), Changes: changes}
		for got := range acked {
			if got >= lsn {
				return
			}
		}
	}
	const orders = 100
	changes := make([]capture.Change, orders)
	for i := range changes {
		changes[i] = ins("orders", capture.Row{"id": int64(i), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": int64(100)})
	}
	send(changes)
	round := 0
	for b.Loop() {
		round++
		for i := range changes {
			changes[i] = upd("orders", capture.Row{"id": int64(i), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "paid", "total_cents": int64(round)})
		}
		send(changes)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*orders), "ns/change")
}
