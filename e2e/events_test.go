package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/daemon"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/internal/verify"
	"github.com/projector-dev/projector/sink"
)

// eventOrders is an event-sourced orders service: no orders table, only
// the events it publishes, folded by projector into the order entity and
// joined with a CRUD consumers table of a database on the other server
// into order_history. The test folds the same events itself, independently
// of projector's reducer, and compares.
type eventOrders struct {
	orders, consumers *testbed.Database
	search            *testbed.Search
	cfgPath, addr     string
	messages          bool // publish with pg_logical_emit_message instead of an outbox
	keep              bool // keep the outbox rows instead of deleting them at once
	conn              *pgx.Conn
	consumerConn      *pgx.Conn

	// The independent fold: orders by id, and the consumers' names.
	model     map[string]*modelOrder
	customers map[int]string
	nextOrder int
	// approved is the state OrderApproved sets: "APPROVED" unless the
	// test changed the reducer.
	approved string
}

type modelOrder struct {
	consumer int
	state    string
	items    []modelItem
}

type modelItem struct {
	sku string
	qty int
}

const eventOrdersReducer = `
        fields: { consumer_id: bigint, state: text, items: jsonb }
        strict: true
        on:
          OrderCreated:   { set: { consumer_id: .consumerId, state: '"PENDING"' } }
          ItemAdded:      { append: { field: items, key: sku } }
          ItemRemoved:    { remove: { field: items, key: sku } }
          OrderApproved:  { set: { state: '"APPROVED"' } }
          OrderCancelled: { delete: true }`

func newEventOrders(t *testing.T, messages bool) *eventOrders {
	t.Helper()
	eo := &eventOrders{orders: testbed.NewDatabase(t, testbed.Primary), consumers: testbed.NewDatabase(t, testbed.Secondary),
		search: testbed.NewSearch(t), addr: freePort(t), messages: messages, model: map[string]*modelOrder{}, customers: map[int]string{}}
	eo.orders.Exec(`CREATE TABLE outbox (id bigserial PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL,
		type text NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`)
	eo.consumers.Exec(`CREATE TABLE consumers (id bigint PRIMARY KEY, name text NOT NULL)`)
	for id := 1; id <= 10; id++ {
		eo.customers[id] = fmt.Sprintf("consumer %d", id)
		eo.consumers.Exec(`INSERT INTO consumers VALUES ($1, $2)`, id, eo.customers[id])
	}
	source := "table: outbox\n        aggregate_type: Order"
	if messages {
		source = "message_prefix: orders"
	}
	eo.cfgPath = writeConfig(t, fmt.Sprintf(`
sources:
  orders:
    dsn: %[1]q
    slot: %[3]sorders
    events:
      order:
        %[4]s%[5]s
  consumers: { dsn: %[2]q, slot: %[3]sconsumers }
sink:
  urls: [%[6]q]
  index_prefix: %[3]s
  flush_interval: 100ms
state: { dir: %[7]q }
http: { listen: %[8]s }
views:
  - name: order_history
    root: { source: orders, entity: order }
    relations:
      - name: consumer
        type: belongs_to
        source: consumers
        table: consumers
        on: { consumer_id: id }
        fields: [name]
`, eo.orders.DSN(), eo.consumers.DSN(), eo.search.Prefix, source, eventOrdersReducer, eo.search.URL,
		filepath.Join(t.TempDir(), "state"), eo.addr))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if eo.conn, err = pgx.Connect(ctx, eo.orders.DSN()); err != nil {
		t.Fatal(err)
	}
	if eo.consumerConn, err = pgx.Connect(ctx, eo.consumers.DSN()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eo.conn.Close(context.Background())
		eo.consumerConn.Close(context.Background())
	})
	return eo
}

// publish writes the events of one transaction of the orders service.
// Outbox rows are deleted in the same transaction, as outbox housekeeping
// at its most eager does: the events are the inserts.
func (eo *eventOrders) publish(ctx context.Context, t *testing.T, events ...[3]string) {
	t.Helper()
	tx, err := eo.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	for _, e := range events {
		if eo.messages {
			content, _ := json.Marshal(map[string]any{"aggregateid": e[0], "type": e[1], "payload": json.RawMessage(e[2])})
			_, err = tx.Exec(ctx, `SELECT pg_logical_emit_message(true, 'orders', $1::text)`, string(content))
		} else {
			// The delete is a statement of its own: a DELETE sharing a WITH
			// with the INSERT would not see the inserted row.
			var id int64
			err = tx.QueryRow(ctx, `INSERT INTO outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', $1, $2, $3) RETURNING id`,
				e[0], e[1], e[2]).Scan(&id)
			if err == nil && !eo.keep {
				_, err = tx.Exec(ctx, `DELETE FROM outbox WHERE id = $1`, id)
			}
		}
		if err != nil {
			t.Fatalf("publish %v: %v", e, err)
		}
	}
	if !eo.messages {
		// An event of another aggregate in the same outbox, kept: the
		// aggregate_type filter leaves it out, or it would cancel order 1.
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (aggregatetype, aggregateid, type, payload) VALUES ('Invoice', '1', 'OrderCancelled', '{}')`); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// step runs one random operation of the service and folds it into the
// model.
func (eo *eventOrders) step(ctx context.Context, t *testing.T, rng *rand.Rand) {
	t.Helper()
	live := make([]string, 0, len(eo.model))
	for id := range eo.model {
		live = append(live, id)
	}
	slices.Sort(live)
	pick := func() (string, *modelOrder) { id := live[rng.IntN(len(live))]; return id, eo.model[id] }
	switch n := rng.IntN(100); {
	case n < 25 || len(live) == 0:
		eo.nextOrder++
		id, consumer := fmt.Sprint(eo.nextOrder), 1+rng.IntN(12) // 11 and 12 never exist
		sku := fmt.Sprintf("sku-%d", rng.IntN(5))
		// Created and a first item in one transaction.
		eo.publish(ctx, t, [3]string{id, "OrderCreated", fmt.Sprintf(`{"consumerId": %d}`, consumer)},
			[3]string{id, "ItemAdded", fmt.Sprintf(`{"sku": %q, "qty": 1}`, sku)})
		eo.model[id] = &modelOrder{consumer: consumer, state: "PENDING", items: []modelItem{{sku, 1}}}
	case n < 55:
		id, o := pick()
		sku, qty := fmt.Sprintf("sku-%d", rng.IntN(5)), 1+rng.IntN(4)
		eo.publish(ctx, t, [3]string{id, "ItemAdded", fmt.Sprintf(`{"sku": %q, "qty": %d}`, sku, qty)})
		o.items = append(slices.DeleteFunc(o.items, func(it modelItem) bool { return it.sku == sku }), modelItem{sku, qty})
	case n < 70:
		id, o := pick()
		sku := fmt.Sprintf("sku-%d", rng.IntN(5))
		eo.publish(ctx, t, [3]string{id, "ItemRemoved", fmt.Sprintf(`{"sku": %q}`, sku)})
		o.items = slices.DeleteFunc(o.items, func(it modelItem) bool { return it.sku == sku })
	case n < 80:
		id, o := pick()
		eo.publish(ctx, t, [3]string{id, "OrderApproved", `{}`})
		o.state = "APPROVED"
		if eo.approved != "" {
			o.state = eo.approved
		}
	case n < 88:
		id, _ := pick()
		eo.publish(ctx, t, [3]string{id, "OrderCancelled", `{}`})
		delete(eo.model, id)
	default:
		c := 1 + rng.IntN(10)
		name := fmt.Sprintf("consumer %d v%d", c, rng.IntN(1000))
		if _, err := eo.consumerConn.Exec(ctx, `UPDATE consumers SET name = $2 WHERE id = $1`, c, name); err != nil {
			t.Fatal(err)
		}
		eo.customers[c] = name
	}
}

// expected renders the model as order_history's documents.
func (eo *eventOrders) expected() map[string]any {
	out := map[string]any{}
	for id, o := range eo.model {
		items := []any{}
		for _, it := range o.items {
			items = append(items, map[string]any{"sku": it.sku, "qty": float64(it.qty)})
		}
		var consumer any
		if name, ok := eo.customers[o.consumer]; ok {
			consumer = map[string]any{"name": name}
		}
		out[id] = map[string]any{"id": id, "consumer_id": float64(o.consumer), "state": o.state, "items": items, "consumer": consumer}
	}
	return out
}

// documents reads every document of order_history by _id.
func (eo *eventOrders) documents(t *testing.T) map[string]any {
	t.Helper()
	return indexDocuments(eo.search, eo.search.Index("order_history"))
}

func testEventSourcedOrders(t *testing.T, messages bool) {
	eo := newEventOrders(t, messages)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(22, map[bool]uint64{false: 1, true: 2}[messages]))
	// Events published before projector's first start come from the
	// snapshot for the outbox (none: housekeeping deleted them) and are
	// lost for messages: projector starts with the slot. Both start empty.
	d := startDaemon(t, eo.cfgPath, eo.addr)
	d.waitReady(2 * time.Minute)
	const ops = 400
	for i := range ops {
		eo.step(ctx, t, rng)
		if i == ops/2 {
			if err := d.stop(syscall.SIGKILL, 30*time.Second); err == nil {
				t.Errorf("projector survived SIGKILL")
			}
			d = startDaemon(t, eo.cfgPath, eo.addr)
		}
	}
	d.waitReady(2 * time.Minute)
	want := eo.expected()
	if len(want) < 20 {
		t.Fatalf("the workload left only %d orders; it checks too little", len(want))
	}
	var got map[string]any
	deadline := time.Now().Add(time.Minute)
	for {
		got = eo.documents(t)
		if cmp.Equal(want, got) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order_history differs from the independent fold of the events (-want +got):\n%s", diff)
	}
	families := d.metrics()
	if v, _ := sample(families, "projector_event_fold_errors_total", map[string]string{"entity": "order"}); v != 0 {
		t.Errorf("%v fold errors, want none", v)
	}
	// The schema watch (every 10 s) has no table to find for an entity.
	time.Sleep(11 * time.Second)
	if v, _ := sample(d.metrics(), "projector_errors_total", map[string]string{"stage": "schema"}); v != 0 {
		t.Errorf("%v schema errors, want none:\n%s", v, d.out.String())
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}

// TestEventSourcedOrdersFromAnOutbox: the orders service writes its events
// to an outbox whose rows it deletes right away.
func TestEventSourcedOrdersFromAnOutbox(t *testing.T) { testEventSourcedOrders(t, false) }

// TestEventSourcedOrdersFromMessages: the orders service emits its events
// with pg_logical_emit_message and has no table at all.
func TestEventSourcedOrdersFromMessages(t *testing.T) { testEventSourcedOrders(t, true) }

// TestEventSourcedOrdersVerify: with an outbox that keeps its events, the
// initial snapshot folds the events written before projector started in
// event order, and verify folds the outbox itself and finds no drift. A
// view over an entity of messages is reported as not checked.
func TestEventSourcedOrdersVerify(t *testing.T) {
	eo := newEventOrders(t, false)
	eo.keep = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(22, 3))
	for range 150 {
		eo.step(ctx, t, rng)
	}
	d := startDaemon(t, eo.cfgPath, eo.addr)
	d.waitReady(2 * time.Minute)
	for range 150 {
		eo.step(ctx, t, rng)
	}
	report := verifyViews(t, eo.cfgPath, nil, "order_history")
	if !strings.Contains(report.Views[0].Note, "folded from the ") {
		t.Errorf("verify does not say what it folded from: %q", report.Views[0].Note)
	}
	if got := eo.documents(t); !cmp.Equal(eo.expected(), got) {
		t.Errorf("order_history differs from the independent fold:\n%s", cmp.Diff(eo.expected(), got))
	}

	// Events deleted by housekeeping cannot be folded again: verify says
	// so and counts the documents they built as drift.
	eo.orders.Exec(`DELETE FROM outbox`)
	cfg, err := config.Load(eo.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rep := runVerify(t, cfg)
	if rep.Clean() || rep.Views[0].Extra == 0 {
		t.Errorf("verify over an emptied outbox found no extra documents: %+v", rep.Views[0])
	}

	// Messages are kept nowhere.
	msgs := newEventOrders(t, true)
	cfg, err = config.Load(msgs.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rep = runVerify(t, cfg)
	if len(rep.Views) != 1 || !strings.Contains(rep.Views[0].Unchecked, "logical decoding messages") {
		t.Errorf("verify of an entity of messages: %+v, want it reported as not checked", rep.Views)
	}
	var out strings.Builder
	rep.Write(&out)
	if !strings.Contains(out.String(), "order_history: NOT CHECKED: ") {
		t.Errorf("the report does not say the view was not checked:\n%s", out.String())
	}
}

// runVerify runs the oracle on every view of cfg without a settle period.
func runVerify(t *testing.T, cfg *config.Config) verify.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts, err := daemon.SinkOptions(cfg.Sink)
	if err != nil {
		t.Fatal(err)
	}
	client, err := sink.Connect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(ctx, cfg, client, verify.Options{ShowDiffs: 3}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

// TestTailShowsPublishedEvents: `projector tail` prints the events a
// service publishes, from its outbox and from logical messages, as such.
func TestTailShowsPublishedEvents(t *testing.T) {
	for _, messages := range []bool{false, true} {
		t.Run(map[bool]string{false: "outbox", true: "messages"}[messages], func(t *testing.T) {
			eo := newEventOrders(t, messages)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tail := startTail(ctx, t, "-c", eo.cfgPath, "--source", "orders")
			eo.publish(ctx, t, [3]string{"7", "OrderCreated", `{"consumerId": 3}`}, [3]string{"7", "ItemAdded", `{"sku": "a", "qty": 2}`})
			lines := bufio.NewScanner(tail.stdout)
			var published []map[string]any
			for len(published) < 2 && lines.Scan() {
				var ev map[string]any
				if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
					t.Fatalf("tail printed %q: %v", lines.Text(), err)
				}
				if ev["kind"] == "published" {
					published = append(published, ev)
				}
			}
			if len(published) < 2 {
				t.Fatalf("tail printed %d published events, want 2: %v", len(published), lines.Err())
			}
			for i, want := range []map[string]any{
				{"entity": "order", "type": "OrderCreated", "aggregate_id": "7", "payload": map[string]any{"consumerId": 3.0}},
				{"entity": "order", "type": "ItemAdded", "aggregate_id": "7", "payload": map[string]any{"sku": "a", "qty": 2.0}},
			} {
				for k, v := range want {
					if !cmp.Equal(published[i][k], v) {
						t.Errorf("published event %d: %s = %v, want %v", i, k, published[i][k], v)
					}
				}
			}
		})
	}
}

// TestFoldErrorsAreDeadLettered: events that fail to fold reach the view's
// dead-letter index with the event and the error; the entity keeps its
// last good state and projector goes on.
func TestFoldErrorsAreDeadLettered(t *testing.T) {
	eo := newEventOrders(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := startDaemon(t, eo.cfgPath, eo.addr)
	d.waitReady(2 * time.Minute)
	eo.publish(ctx, t, [3]string{"1", "OrderCreated", `{"consumerId": 2}`}, [3]string{"1", "ItemAdded", `"not an object"`})
	eo.publish(ctx, t, [3]string{"1", "Shipped", `{}`}, [3]string{"1", "OrderApproved", `{}`})
	want := map[string]any{"1": map[string]any{"id": "1", "consumer_id": 2.0, "state": "APPROVED",
		"consumer": map[string]any{"name": "consumer 2"}}}
	eventually(t, time.Minute, func() bool { return cmp.Equal(want, eo.documents(t)) },
		func() string { return cmp.Diff(want, eo.documents(t)) })
	index := sink.DeadLetterIndex(eo.search.Index("order_history"))
	var letters []map[string]any
	eventually(t, time.Minute, func() bool {
		eo.search.Refresh()
		body, err := eo.search.Do("POST", "/"+index+"/_search", strings.NewReader(`{"size": 10, "sort": [{"position": "asc"}]}`))
		if err != nil {
			return false
		}
		var res struct {
			Hits struct {
				Hits []struct {
					Source map[string]any `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if json.Unmarshal(body, &res) != nil {
			return false
		}
		letters = letters[:0]
		for _, h := range res.Hits.Hits {
			letters = append(letters, h.Source)
		}
		return len(letters) == 2
	}, func() string { return fmt.Sprintf("dead letters: %v", letters) })
	for i, typ := range []string{"ItemAdded", "Shipped"} {
		dl := letters[i]
		errObj, _ := dl["error"].(map[string]any)
		if dl["action"] != "fold" || dl["event_type"] != typ || dl["id"] != "1" || dl["entity"] != "order" ||
			errObj["type"] != "fold_error" || errObj["reason"] == "" || !strings.Contains(fmt.Sprint(dl["document"]), typ) {
			t.Errorf("dead letter %d: %v, want the %s event with its error", i, dl, typ)
		}
	}
	if v, _ := sample(d.metrics(), "projector_event_fold_errors_total", map[string]string{"entity": "order"}); v != 2 {
		t.Errorf("projector_event_fold_errors_total = %v, want 2", v)
	}
}

// TestChangedReducerRebuildsFromTheEvents: with an outbox that keeps its
// events, a changed reducer builds the view's next index version from
// them, and the documents follow the new reducer.
func TestChangedReducerRebuildsFromTheEvents(t *testing.T) {
	eo := newEventOrders(t, false)
	eo.keep = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(22, 4))
	d := startDaemon(t, eo.cfgPath, eo.addr)
	d.waitReady(2 * time.Minute)
	for range 100 {
		eo.step(ctx, t, rng)
	}
	approved := 0
	for _, o := range eo.model {
		if o.state == "APPROVED" {
			approved++
		}
	}
	if approved == 0 {
		t.Fatal("the workload approved no order; the reducer change would show nothing")
	}
	eventually(t, time.Minute, func() bool { return cmp.Equal(eo.expected(), eo.documents(t)) },
		func() string { return cmp.Diff(eo.expected(), eo.documents(t)) })
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("projector exit: %v", err)
	}

	cfg, err := os.ReadFile(eo.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(cfg), `OrderApproved:  { set: { state: '"APPROVED"' } }`, `OrderApproved:  { set: { state: '"OK"' } }`, 1)
	if changed == string(cfg) {
		t.Fatal("the reducer to change is not in the configuration")
	}
	if err := os.WriteFile(eo.cfgPath, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, o := range eo.model {
		if o.state == "APPROVED" {
			o.state = "OK"
		}
	}
	d = startDaemon(t, eo.cfgPath, eo.addr)
	d.waitReady(2 * time.Minute)
	eventually(t, 2*time.Minute, func() bool { return cmp.Equal(eo.expected(), eo.documents(t)) },
		func() string { return cmp.Diff(eo.expected(), eo.documents(t)) })
	body, err := eo.search.Do("GET", "/_alias/"+eo.search.Index("order_history"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), eo.search.Index("order_history")+"_v2") {
		t.Errorf("the alias does not point to the next index version: %s", body)
	}
}
