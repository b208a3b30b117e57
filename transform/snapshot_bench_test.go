package transform

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform/state"
)

// countingIndex acknowledges every document at once and counts them.
type countingIndex struct{ docs atomic.Int64 }

func (c *countingIndex) Submit(_ context.Context, docs []sink.Document, ack func()) error {
	c.docs.Add(int64(len(docs)))
	ack()
	return nil
}

// shopView is the view of the snapshot benchmark (bench/shop.go): orders
// with their customer and items.
func shopView() *View {
	return &View{Name: "orders", Root: &Node{
		Kind: Root, Source: "shop", Table: tbl("orders"), Key: []string{"id"},
		Fields: []Field{{"id", "id"}, {"status", "status"}, {"total_cents", "total_cents"}, {"created_at", "created_at"}},
		Children: []*Node{
			{Name: "customer", Kind: BelongsTo, Source: "shop", Table: tbl("customers"), Key: []string{"id"},
				On: []JoinPair{{"customer_id", "id"}}, Fields: []Field{{"name", "name"}, {"email", "email"}}},
			{Name: "items", Kind: HasMany, Source: "shop", Table: tbl("order_items"), Key: []string{"id"},
				On: []JoinPair{{"id", "order_id"}}, Fields: []Field{{"sku", "sku"}, {"quantity", "quantity"}, {"price_cents", "price_cents"}}},
		}}}
}

// BenchmarkSnapshot applies the snapshot of the benchmark's shop (1,000
// orders per 100 customers, three items each) to a new state and builds
// every order's document, as a snapshot's transactions arrive from
// capture: the transform stage's share of a snapshot's CPU, without
// PostgreSQL or the search engine. Reported per order document.
func BenchmarkSnapshot(b *testing.B) {
	const orders, customers, items, chunk = 20000, 2000, 3, 5000
	at := capture.LSN(1000)
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var txns []*capture.Transaction
	var copied []capture.Table
	add := func(table string, n int, row func(i int64) capture.Row) {
		t := tbl(table)
		for start := 1; start <= n; start += chunk {
			txn := &capture.Transaction{Source: "shop", CommitLSN: at, EndLSN: at, CommitTime: time.Now(), Snapshot: true,
				Reset: len(txns) == 0, Copied: copied}
			for i := start; i < start+chunk && i <= n; i++ {
				txn.Changes = append(txn.Changes, capture.Change{Op: capture.Read, Table: t, Key: []string{"id"}, New: row(int64(i))})
			}
			txns = append(txns, txn)
		}
		copied = append(copied[:len(copied):len(copied)], t)
	}
	add("customers", customers, func(i int64) capture.Row {
		return capture.Row{"id": i, "name": "Customer " + strconv.FormatInt(i, 10), "email": "customer" + strconv.FormatInt(i, 10) + "@example.com"}
	})
	add("order_items", orders*items, func(i int64) capture.Row {
		return capture.Row{"id": i, "order_id": 1 + (i-1)/items, "sku": "SKU-" + strconv.FormatInt(i%5000, 10), "quantity": int32(1 + i%4), "price_cents": 250 + i%2000}
	})
	add("orders", orders, func(i int64) capture.Row {
		return capture.Row{"id": i, "customer_id": 1 + i%customers, "status": []string{"placed", "paid", "delivered"}[i%3],
			"total_cents": 1000 + i%9000, "created_at": created.Add(time.Duration(i) * time.Second)}
	})
	txns = append(txns, &capture.Transaction{Source: "shop", CommitLSN: at, EndLSN: at, CommitTime: time.Now(), Snapshot: true,
		SnapshotDone: true, Copied: copied})

	for b.Loop() {
		b.StopTimer()
		store, err := state.Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		index := &countingIndex{}
		confirmed := make(chan capture.LSN, 1)
		engine, err := NewEngine(store, []*View{shopView()}, index, func(_ string, lsn capture.LSN) {
			select {
			case confirmed <- lsn:
			default:
			}
		}, Options{}, NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		in := make(chan *capture.Transaction, 4)
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- engine.Run(ctx, in) }()
		for _, txn := range txns {
			in <- txn
		}
		if lsn := <-confirmed; lsn != at {
			b.Fatalf("confirmed %s, want the snapshot's %s", lsn, at)
		}
		b.StopTimer()
		cancel()
		<-done
		if n := index.docs.Load(); n < orders {
			b.Fatalf("%d documents written, want %d", n, orders)
		}
		store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*orders), "ns/doc")
}
