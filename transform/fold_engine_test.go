package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/state"
)

// orderEntity is an event-sourced order: no orders table, only the events
// its service writes to an outbox, or emits as messages.
func orderEntity(messages bool) config.EventStream {
	s := config.EventStream{
		Table:  "outbox",
		Strict: true,
		Fields: map[string]string{"consumer_id": "bigint", "state": "text", "items": "jsonb"},
		On: map[string]config.Reducer{
			"OrderCreated":   {Set: map[string]string{"consumer_id": ".consumerId", "state": `"PENDING"`}},
			"ItemAdded":      {Append: &config.ArrayStep{Field: "items", Key: "sku"}},
			"ItemRemoved":    {Remove: &config.ArrayStep{Field: "items", Key: "sku"}},
			"OrderApproved":  {Set: map[string]string{"state": `"APPROVED"`}},
			"OrderCancelled": {Delete: true},
		},
	}
	if messages {
		s.Table, s.MessagePrefix = "", "orders"
	}
	s.Columns = config.DefaultEventColumns()
	s.OrderBy = "id"
	return s
}

// foldHarness runs an engine whose order_history view joins the folded
// order entity with a consumers table of another source.
func newFoldHarness(t *testing.T, dir string, messages bool) (*harness, *Metrics) {
	t.Helper()
	return newFoldHarnessOf(t, dir, orderEntity(messages), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// newFoldHarnessOf is newFoldHarness with the order entity folded from
// stream, logging to log.
func newFoldHarnessOf(t *testing.T, dir string, stream config.EventStream, log *slog.Logger, refolds ...Refold) (*harness, *Metrics) {
	t.Helper()
	return newFoldHarnessWith(t, dir, stream, log, newMemoryIndex(), refolds...)
}

// newFoldHarnessWith is newFoldHarnessOf writing to index.
func newFoldHarnessWith(t *testing.T, dir string, stream config.EventStream, log *slog.Logger, index *memoryIndex, refolds ...Refold) (*harness, *Metrics) {
	t.Helper()
	entities := []Entity{{Source: "orders", Name: "order", Stream: stream}}
	schema := Schema{"consumers": {tbl("consumers"): {
		Table: tbl("consumers"), Key: []string{"id"}, Unique: [][]string{{"id"}},
		Columns: []capture.Column{{Name: "id", Type: "bigint", Base: "int8"}, {Name: "name", Type: "text", Base: "text"}},
	}}}
	AddEntities(schema, entities)
	views, err := Compile([]config.View{{
		Name: "order_history", Root: config.EntityRef("orders", "order"), AllColumns: true,
		Relations: []config.Relation{{Name: "consumer", Type: config.BelongsTo,
			Table: config.TableRef{Source: "consumers", Schema: "public", Name: "consumers"},
			On:    []config.JoinPair{{Parent: "consumer_id", Related: "id"}}, Fields: []config.Field{{Column: "name", Name: "name"}}}},
	}}, schema)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, store: store, index: index, in: make(chan *capture.Transaction), done: make(chan error, 1),
		confirmed: map[string]capture.LSN{}, lsn: 100}
	metrics := NewMetrics(prometheus.NewRegistry())
	h.engine, err = NewEngine(store, views, index, h.confirm, Options{Entities: entities, Refolds: refolds}, metrics, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.engine.Run(ctx, h.in) }()
	t.Cleanup(h.stop)
	return h, metrics
}

// outbox is the insert of event id into the outbox.
func outbox(id int64, aggregate, typ, payload string) capture.Change {
	return capture.Change{Op: capture.Insert, Table: tbl("outbox"), Key: []string{"id"}, New: capture.Row{
		"id": id, "aggregatetype": "Order", "aggregateid": aggregate, "type": typ, "payload": json.RawMessage(payload)}}
}

func outboxDeleted(id int64) capture.Change {
	return capture.Change{Op: capture.Delete, Table: tbl("outbox"), Key: []string{"id"}, Old: capture.Row{"id": id}}
}

func message(aggregate, typ, payload string) capture.Message {
	content, _ := json.Marshal(map[string]any{"aggregateid": aggregate, "type": typ, "payload": json.RawMessage(payload)})
	return capture.Message{Prefix: "orders", Content: content, Transactional: true}
}

// publish sends one transaction of the orders service: its events and
// the outbox housekeeping deleting them.
func (h *harness) publish(messages bool, events ...[3]string) capture.LSN {
	h.t.Helper()
	h.lsn += 10
	txn := &capture.Transaction{Source: "orders", XID: uint32(h.lsn), CommitLSN: h.lsn, EndLSN: h.lsn, CommitTime: time.Now()}
	for _, e := range events {
		if messages {
			txn.Messages = append(txn.Messages, message(e[0], e[1], e[2]))
			continue
		}
		ch := outbox(int64(h.lsn)*1000+int64(len(txn.Changes)), e[0], e[1], e[2])
		txn.Changes = append(txn.Changes, ch, outboxDeleted(ch.New["id"].(int64)))
	}
	h.in <- txn
	return h.lsn
}

func orderDoc(t *testing.T, h *harness, id string) map[string]any {
	t.Helper()
	return h.index.doc(t, docID(`["`+id+`"]`))
}

func TestFoldedEntityJoinsATable(t *testing.T) {
	for _, messages := range []bool{false, true} {
		name := map[bool]string{false: "outbox", true: "messages"}[messages]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			h, metrics := newFoldHarness(t, dir, messages)
			h.sync("consumers", h.txn("consumers", ins("consumers", capture.Row{"id": int64(7), "name": "Ada"})))
			h.sync("orders", h.publish(messages,
				[3]string{"1", "OrderCreated", `{"consumerId": 7}`},
				[3]string{"1", "ItemAdded", `{"sku": "a", "qty": 1}`},
				[3]string{"1", "ItemAdded", `{"sku": "b", "qty": 2}`},
				[3]string{"2", "OrderCreated", `{"consumerId": 8}`},
			))
			want := map[string]any{"id": "1", "consumer_id": 7.0, "state": "PENDING",
				"items":    []any{map[string]any{"sku": "a", "qty": 1.0}, map[string]any{"sku": "b", "qty": 2.0}},
				"consumer": map[string]any{"name": "Ada"}}
			if diff := cmp.Diff(want, orderDoc(t, h, "1")); diff != "" {
				t.Errorf("order 1 (-want +got):\n%s", diff)
			}
			if got := orderDoc(t, h, "2")["consumer"]; got != nil {
				t.Errorf("order 2 of an unknown consumer has consumer %v", got)
			}

			// A bad event is dead-lettered; the entity keeps its state.
			lsn := h.publish(messages,
				[3]string{"1", "ItemRemoved", `{"sku": "a"}`},
				[3]string{"1", "ItemAdded", `"not an object"`},
				[3]string{"1", "Shipped", `{}`},
				[3]string{"1", "OrderApproved", `{}`},
			)
			h.sync("orders", lsn)
			want["items"] = []any{map[string]any{"sku": "b", "qty": 2.0}}
			want["state"] = "APPROVED"
			if diff := cmp.Diff(want, orderDoc(t, h, "1")); diff != "" {
				t.Errorf("order 1 after a bad event (-want +got):\n%s", diff)
			}
			if n := testutil.ToFloat64(metrics.foldErrors.WithLabelValues("orders", "order")); n != 2 {
				t.Errorf("fold errors = %v, want 2 (a bad payload, an unknown type when strict)", n)
			}
			if n := testutil.ToFloat64(metrics.folded.WithLabelValues("orders", "order", "other")); n != 1 {
				t.Errorf("events of other types = %v, want 1", n)
			}
			if n := testutil.ToFloat64(metrics.folded.WithLabelValues("orders", "order", "ItemAdded")); n != 3 {
				t.Errorf("ItemAdded events = %v, want 3", n)
			}
			letters := 0
			h.index.mu.Lock()
			for _, src := range h.index.docs {
				var dl foldDeadLetter
				if json.Unmarshal(src, &dl) == nil && dl.Action == "fold" {
					letters++
					if dl.View != "order_history" || dl.ID != "1" || dl.Error.Reason == "" || dl.Position == "" {
						t.Errorf("dead letter %+v lacks the view, entity id, position or error", dl)
					}
				}
			}
			h.index.mu.Unlock()
			if letters != 2 {
				t.Errorf("%d fold dead letters, want 2", letters)
			}

			// The consumer's change reaches the order; a cancel deletes it.
			h.sync("consumers", h.txn("consumers", upd("consumers", capture.Row{"id": int64(7), "name": "Ada L."})))
			if got := orderDoc(t, h, "1")["consumer"]; !cmp.Equal(got, map[string]any{"name": "Ada L."}) {
				t.Errorf("consumer after rename = %v", got)
			}
			h.sync("orders", h.publish(messages, [3]string{"2", "OrderCancelled", `{}`}))
			if got := orderDoc(t, h, "2"); got != nil {
				t.Errorf("cancelled order 2 is still there: %v", got)
			}

			// After a restart the source sends the last transaction again:
			// nothing is folded twice.
			before := orderDoc(t, h, "1")
			h.stop()
			h, _ = newFoldHarness(t, dir, messages)
			h.lsn = lsn - 10
			h.publish(messages,
				[3]string{"1", "ItemRemoved", `{"sku": "a"}`},
				[3]string{"1", "ItemAdded", `"not an object"`},
				[3]string{"1", "Shipped", `{}`},
				[3]string{"1", "OrderApproved", `{}`},
			)
			h.lsn = lsn + 100
			h.sync("orders", h.publish(messages, [3]string{"1", "ItemAdded", `{"sku": "c", "qty": 1}`}))
			want["items"] = []any{map[string]any{"sku": "b", "qty": 2.0}, map[string]any{"sku": "c", "qty": 1.0}}
			want["consumer"] = before["consumer"]
			if diff := cmp.Diff(want, orderDoc(t, h, "1")); diff != "" {
				t.Errorf("order 1 after a redelivery (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFoldSnapshotInEventOrder: a snapshot copies the event table in no
// particular order; the events are folded by order_by once it is copied.
func TestFoldSnapshotInEventOrder(t *testing.T) {
	h, _ := newFoldHarness(t, t.TempDir(), false)
	row := func(id int64, typ, payload string) capture.Change {
		return capture.Change{Op: capture.Read, Table: tbl("outbox"), Key: []string{"id"}, New: capture.Row{
			"id": id, "aggregatetype": "Order", "aggregateid": "5", "type": typ, "payload": json.RawMessage(payload)}}
	}
	lsn := capture.LSN(500)
	h.in <- &capture.Transaction{Source: "orders", CommitLSN: lsn, EndLSN: lsn, Snapshot: true, Reset: true, Changes: []capture.Change{
		row(12, "ItemRemoved", `{"sku": "a"}`), row(9, "ItemAdded", `{"sku": "a"}`),
	}}
	h.in <- &capture.Transaction{Source: "orders", CommitLSN: lsn, EndLSN: lsn, Snapshot: true, SnapshotDone: true, Changes: []capture.Change{
		row(10, "ItemAdded", `{"sku": "b"}`), row(2, "OrderCreated", `{"consumerId": 1}`), row(30, "OrderApproved", `{}`),
	}, Copied: []capture.Table{tbl("outbox")}}
	h.sync("orders", lsn)
	want := map[string]any{"id": "5", "consumer_id": 1.0, "state": "APPROVED", "items": []any{map[string]any{"sku": "b"}}, "consumer": nil}
	if diff := cmp.Diff(want, orderDoc(t, h, "5")); diff != "" {
		t.Errorf("order 5 (-want +got):\n%s", diff)
	}
}

func TestReducerDigest(t *testing.T) {
	cfg := &config.Config{Sources: map[string]config.Source{"orders": {Events: map[string]config.EventStream{"order": orderEntity(false)}}}}
	entityView := &config.View{Name: "order_history", Root: config.EntityRef("orders", "order")}
	tableView := &config.View{Name: "orders", Root: config.TableRef{Source: "orders", Schema: "public", Name: "orders"}}
	if d := ReducerDigest(cfg, tableView); d != "" {
		t.Errorf("a view of tables only has reducer digest %q; its fingerprint must stay as it was", d)
	}
	before := ReducerDigest(cfg, entityView)
	if before == "" || before != ReducerDigest(cfg, entityView) {
		t.Fatalf("digest %q is empty or unstable", before)
	}
	s := orderEntity(false)
	s.Keep = config.KeepNone
	cfg.Sources["orders"].Events["order"] = s
	if d := ReducerDigest(cfg, entityView); d != before {
		t.Errorf("keep changes the digest from %s to %s; keeping events or not folds the same entities", before, d)
	}
	s.On["OrderApproved"] = config.Reducer{Set: map[string]string{"state": `"OK"`}}
	cfg.Sources["orders"].Events["order"] = s
	if after := ReducerDigest(cfg, entityView); after == before {
		t.Errorf("a changed reducer keeps digest %s", after)
	}
}

// BenchmarkFoldEvents folds ItemAdded events of 100 orders a transaction
// into order_history, next to BenchmarkApplyChanges' row changes.
func BenchmarkFoldEvents(b *testing.B) {
	entities := []Entity{{Source: "orders", Name: "order", Stream: orderEntity(false)}}
	schema := Schema{"consumers": {tbl("consumers"): {
		Table: tbl("consumers"), Key: []string{"id"}, Unique: [][]string{{"id"}},
		Columns: []capture.Column{{Name: "id", Type: "bigint", Base: "int8"}, {Name: "name", Type: "text", Base: "text"}},
	}}}
	AddEntities(schema, entities)
	views, err := Compile([]config.View{{
		Name: "order_history", Root: config.EntityRef("orders", "order"), AllColumns: true,
		Relations: []config.Relation{{Name: "consumer", Type: config.BelongsTo,
			Table: config.TableRef{Source: "consumers", Schema: "public", Name: "consumers"},
			On:    []config.JoinPair{{Parent: "consumer_id", Related: "id"}}, Fields: []config.Field{{Column: "name", Name: "name"}}}},
	}}, schema)
	if err != nil {
		b.Fatal(err)
	}
	send := benchEngine(b, views, entities, "orders", nil)
	const orders = 100
	changes := make([]capture.Change, orders)
	for i := range changes {
		changes[i] = outbox(int64(i), fmt.Sprint(i), "OrderCreated", `{"consumerId": 7}`)
	}
	send(changes)
	round := 0
	for b.Loop() {
		round++
		for i := range changes {
			changes[i] = outbox(int64(round*orders+i), fmt.Sprint(i), "ItemAdded", fmt.Sprintf(`{"sku": "sku-%d", "qty": 1}`, round%10))
		}
		send(changes)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*orders), "ns/event")
}

func TestPublished(t *testing.T) {
	entities := []Entity{
		{Source: "orders", Name: "order", Stream: orderEntity(false)},
		{Source: "orders", Name: "payment", Stream: func() config.EventStream {
			s := orderEntity(true)
			s.MessagePrefix = "payments"
			return s
		}()},
	}
	entities[0].Stream.AggregateType = "Order"
	other := outbox(2, "9", "InvoiceSent", `{}`)
	other.New["aggregatetype"] = "Invoice"
	bad := outbox(3, "3", "OrderCreated", `{}`)
	delete(bad.New, "aggregateid")
	msg := message("5", "PaymentTaken", `{"amount": 3}`)
	msg.Prefix = "payments"
	txn := &capture.Transaction{Source: "orders", CommitLSN: 42, Changes: []capture.Change{
		outbox(1, "1", "OrderCreated", `{"consumerId": 7}`), outboxDeleted(1), other, bad,
	}, Messages: []capture.Message{msg, message("6", "Ignored", `{}`)}}
	got := Published(entities, txn)
	for i := range got {
		got[i].ID, got[i].CommitTime = "", time.Time{}
	}
	want := []PublishedEvent{
		{Kind: "published", Source: "orders", Entity: "order", Type: "OrderCreated", AggregateType: "Order", AggregateID: "1",
			Payload: json.RawMessage(`{"consumerId":7}`), CommitLSN: 42},
		{Kind: "published", Source: "orders", Entity: "order", Type: "OrderCreated", AggregateType: "Order", Payload: json.RawMessage("null"), CommitLSN: 42,
			Error: `the event has no aggregateid (column or key "aggregateid")`},
		{Kind: "published", Source: "orders", Entity: "payment", Type: "PaymentTaken", AggregateID: "5",
			Payload: json.RawMessage(`{"amount":3}`), CommitLSN: 42},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("published events (-want +got):\n%s", diff)
	}
	if got := Published(entities, &capture.Transaction{Source: "consumers", Changes: txn.Changes}); len(got) != 0 {
		t.Errorf("another source's transaction publishes %v", got)
	}
}

// TestFoldPagedTransaction: a transaction too large for memory arrives in
// pages at one position; every event of every page is folded once, also
// when the whole transaction is sent again after a restart.
func TestFoldPagedTransaction(t *testing.T) {
	dir := t.TempDir()
	h, _ := newFoldHarness(t, dir, false)
	lsn := capture.LSN(700)
	pages := func() []*capture.Transaction {
		ev := func(id int64, typ, payload string) capture.Change { return outbox(id, "9", typ, payload) }
		return []*capture.Transaction{
			{Source: "orders", XID: 7, CommitLSN: lsn, EndLSN: lsn, More: true, Changes: []capture.Change{
				ev(1, "OrderCreated", `{"consumerId": 3}`), ev(2, "ItemAdded", `{"sku": "a"}`)}},
			{Source: "orders", XID: 7, CommitLSN: lsn, EndLSN: lsn, More: true, Offset: 2, Changes: []capture.Change{
				ev(3, "ItemAdded", `{"sku": "b"}`), ev(4, "ItemAdded", `{"sku": "c"}`)}},
			{Source: "orders", XID: 7, CommitLSN: lsn, EndLSN: lsn, Offset: 4, Changes: []capture.Change{
				ev(5, "ItemRemoved", `{"sku": "a"}`)}},
		}
	}
	for _, p := range pages() {
		h.in <- p
	}
	h.sync("orders", lsn)
	want := []any{map[string]any{"sku": "b"}, map[string]any{"sku": "c"}}
	if got := orderDoc(t, h, "9")["items"]; !cmp.Equal(got, want) {
		t.Fatalf("items of order 9 from three pages = %v, want %v", got, want)
	}
	h.stop()
	h, _ = newFoldHarness(t, dir, false)
	for _, p := range pages() {
		h.in <- p
	}
	// The restarted engine writes to an empty index: one more event shows
	// what the entity holds.
	h.lsn = lsn + 100
	h.sync("orders", h.publish(false, [3]string{"9", "ItemAdded", `{"sku": "d"}`}))
	want = append(want, map[string]any{"sku": "d"})
	if got := orderDoc(t, h, "9")["items"]; !cmp.Equal(got, want) {
		t.Errorf("items of order 9 after the pages were sent again = %v, want %v", got, want)
	}
}

// TestFoldPrefetchedStates: the states a transaction of events about many
// aggregates reads ahead (prefetch) fold as states read one event at a
// time: aggregates with and without a state, several events of one
// aggregate in the transaction, one deleted and created again, and events
// in no key order.
func TestFoldPrefetchedStates(t *testing.T) {
	h, _ := newFoldHarness(t, t.TempDir(), false)
	const orders = 3 * prefetchAggregates
	var created [][3]string
	for i := range orders {
		if i%3 == 0 {
			continue // created in the second transaction
		}
		created = append(created, [3]string{fmt.Sprint(i), "OrderCreated", `{"consumerId": 7}`})
	}
	h.sync("orders", h.publish(false, created...))
	var events [][3]string
	for i := orders - 1; i >= 0; i-- {
		id := fmt.Sprint(i)
		if i%3 == 0 {
			events = append(events, [3]string{id, "OrderCreated", `{"consumerId": 8}`})
		}
		events = append(events, [3]string{id, "ItemAdded", `{"sku": "a"}`})
		if i%5 == 0 {
			events = append(events, [3]string{id, "OrderCancelled", `{}`}, [3]string{id, "OrderCreated", `{"consumerId": 9}`})
		}
		if i%2 == 0 {
			events = append(events, [3]string{id, "ItemAdded", `{"sku": "b"}`})
		}
	}
	h.sync("orders", h.publish(false, events...))
	for i := range orders {
		want := map[string]any{"id": fmt.Sprint(i), "consumer_id": 7.0, "state": "PENDING", "items": []any{map[string]any{"sku": "a"}}}
		if i%3 == 0 {
			want["consumer_id"] = 8.0
		}
		if i%5 == 0 {
			want = map[string]any{"id": fmt.Sprint(i), "consumer_id": 9.0, "state": "PENDING"}
		}
		if i%2 == 0 {
			items, _ := want["items"].([]any)
			want["items"] = append(items, map[string]any{"sku": "b"})
		}
		got := orderDoc(t, h, fmt.Sprint(i))
		delete(got, "consumer")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("order %d (-want +got):\n%s", i, diff)
		}
	}
}
