package transform

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform/state"
)

// memoryIndex is a writer that behaves like a search index with external
// versions: an older version never replaces a newer one.
type memoryIndex struct {
	mu       sync.Mutex
	docs     map[string]json.RawMessage
	versions map[string]int64
	writes   int
	largest  int  // the most documents one submission carried
	hold     bool // when set, acknowledgements are kept back
	held     []func()
}

func newMemoryIndex() *memoryIndex {
	return &memoryIndex{docs: map[string]json.RawMessage{}, versions: map[string]int64{}}
}

func (m *memoryIndex) Submit(_ context.Context, docs []sink.Document, ack func()) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.largest = max(m.largest, len(docs))
	for _, d := range docs {
		m.writes++
		if d.Version <= m.versions[d.ID] {
			continue
		}
		m.versions[d.ID] = d.Version
		if d.Source == nil {
			delete(m.docs, d.ID)
		} else {
			m.docs[d.ID] = d.Source
		}
	}
	if m.hold {
		m.held = append(m.held, ack)
	} else {
		ack()
	}
	return nil
}

func (m *memoryIndex) doc(t *testing.T, id string) map[string]any {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	raw, ok := m.docs[id]
	if !ok {
		return nil
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("document %s is not JSON: %v: %s", id, err, raw)
	}
	return doc
}

func tbl(name string) capture.Table { return capture.Table{Schema: "public", Name: name} }

// orderHistory is the order_history view of the configuration example.
func orderHistory() *View {
	return &View{Name: "order_history", Root: &Node{
		Kind: Root, Source: "orders", Table: tbl("orders"), Key: []string{"id"},
		Fields: []Field{{"id", "id"}, {"consumer_id", "consumer_id"}, {"status", "status"}, {"total_cents", "total_cents"}},
		Children: []*Node{
			{Name: "consumer", Kind: BelongsTo, Source: "consumers", Table: tbl("consumers"), Key: []string{"id"},
				On: []JoinPair{{"consumer_id", "id"}}, Fields: []Field{{"name", "name"}, {"email", "contact_email"}}},
			{Name: "restaurant", Kind: BelongsTo, Source: "restaurants", Table: tbl("restaurants"), Key: []string{"id"},
				On: []JoinPair{{"restaurant_id", "id"}}, Fields: []Field{{"name", "name"}}},
			{Name: "line_items", Kind: HasMany, Source: "orders", Table: tbl("order_line_items"), Key: []string{"id"},
				On: []JoinPair{{"id", "order_id"}}, Fields: []Field{{"quantity", "quantity"}},
				Children: []*Node{{Name: "menu_item", Kind: BelongsTo, Source: "restaurants", Table: tbl("menu_items"),
					Key: []string{"id"}, On: []JoinPair{{"menu_item_id", "id"}}, Fields: []Field{{"name", "name"}}}}},
			{Name: "delivery", Kind: HasOne, Source: "deliveries", Table: tbl("deliveries"), Key: []string{"id"},
				On: []JoinPair{{"id", "order_id"}}, Fields: []Field{{"status", "status"}}},
		}}}
}

// harness runs an engine over a temporary store.
type harness struct {
	t         *testing.T
	dir       string
	store     *state.Store
	engine    *Engine
	index     *memoryIndex
	in        chan *capture.Transaction
	cancel    context.CancelFunc
	done      chan error
	lsn       capture.LSN
	mu        sync.Mutex
	confirmed map[string]capture.LSN
}

func newHarness(t *testing.T, index *memoryIndex, dir string) *harness {
	t.Helper()
	return newHarnessWith(t, index, dir, Options{})
}

// newHarnessWith is newHarness with the engine's options.
func newHarnessWith(t *testing.T, index *memoryIndex, dir string, opts Options) *harness {
	t.Helper()
	store, err := state.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, store: store, index: index, in: make(chan *capture.Transaction), done: make(chan error, 1),
		confirmed: map[string]capture.LSN{}, lsn: 100}
	h.engine, err = NewEngine(store, []*View{orderHistory()}, index, h.confirm, opts,
		NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.engine.Run(ctx, h.in) }()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) confirm(source string, lsn capture.LSN) {
	h.mu.Lock()
	h.confirmed[source] = max(h.confirmed[source], lsn)
	h.mu.Unlock()
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.cancel = nil
	if err := h.store.Close(); err != nil {
		h.t.Errorf("close store: %v", err)
	}
}

// txn sends one transaction of changes to source and returns its position.
func (h *harness) txn(source string, changes ...capture.Change) capture.LSN {
	h.t.Helper()
	h.lsn += 10
	ct := &capture.Transaction{Source: source, XID: uint32(h.lsn), CommitLSN: h.lsn, EndLSN: h.lsn,
		CommitTime: time.Now(), Changes: changes}
	h.in <- ct
	return h.lsn
}

// sync waits until the engine confirmed lsn of source. The bound only
// keeps a lost confirmation from hanging the run: a loaded machine running
// the race detector needs far more than the milliseconds a quiet one does.
func (h *harness) sync(source string, lsn capture.LSN) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		h.mu.Lock()
		got := h.confirmed[source]
		h.mu.Unlock()
		if got >= lsn {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("source %s: position %s not confirmed (at %s)", source, lsn, got)
		}
		time.Sleep(time.Millisecond)
	}
}

func ins(table string, row capture.Row) capture.Change {
	return capture.Change{Op: capture.Insert, Table: tbl(table), Key: []string{"id"}, New: row}
}

func upd(table string, row capture.Row, unchanged ...string) capture.Change {
	return capture.Change{Op: capture.Update, Table: tbl(table), Key: []string{"id"}, New: row, Unchanged: unchanged}
}

func del(table string, id int64) capture.Change {
	return capture.Change{Op: capture.Delete, Table: tbl(table), Key: []string{"id"}, Old: capture.Row{"id": id}}
}
