package transform

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform/state"
)

// indexRouter is a writer over one memoryIndex per index name.
type indexRouter struct {
	mu      sync.Mutex
	indices map[string]*memoryIndex
	// blockIndex, when set, takes blockPages submissions to it and then
	// blocks the next until the engine stops, after closing blocked.
	blockIndex string
	blockPages int
	blocked    chan struct{}
}

func (r *indexRouter) index(name string) *memoryIndex {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indices[name] == nil {
		r.indices[name] = newMemoryIndex()
	}
	return r.indices[name]
}

func (r *indexRouter) Submit(ctx context.Context, docs []sink.Document, ack func()) error {
	byIndex := map[string][]sink.Document{}
	for _, d := range docs {
		byIndex[d.Index] = append(byIndex[d.Index], d)
	}
	for name, part := range byIndex {
		if name == r.blockIndex {
			r.mu.Lock()
			r.blockPages--
			stop := r.blockPages < 0
			r.mu.Unlock()
			if stop {
				close(r.blocked)
				<-ctx.Done()
				return ctx.Err()
			}
		}
		if err := r.index(name).Submit(ctx, part, func() {}); err != nil {
			return err
		}
	}
	ack()
	return nil
}

func (r *indexRouter) docs(name string) map[string]string {
	m := r.index(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for id, d := range m.docs {
		out[id] = string(d)
	}
	return out
}

// runEngine runs an engine over the store in dir until the test ends or
// stop is called.
type runEngine struct {
	store  *state.Store
	engine *Engine
	in     chan *capture.Transaction
	cancel context.CancelFunc
	done   chan error
}

func startEngine(t *testing.T, dir string, out Writer, views []*View, builds []string, confirm Confirmer) *runEngine {
	t.Helper()
	store, err := state.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &runEngine{store: store, in: make(chan *capture.Transaction), done: make(chan error, 1)}
	r.engine, err = NewEngine(store, views, out, confirm, Options{Builds: builds, IndexName: func(v string) string { return v + "_v1" }},
		NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.engine.Run(ctx, r.in) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *runEngine) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	if err := <-r.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("engine: %v", err)
	}
	r.cancel = nil
	if err := r.store.Close(); err != nil {
		t.Errorf("close store: %v", err)
	}
}

// positions records the confirmed positions of an engine.
type positions struct {
	mu  sync.Mutex
	lsn map[string]capture.LSN
}

func (p *positions) confirm(source string, lsn capture.LSN) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lsn[source] = max(p.lsn[source], lsn)
}

func (p *positions) wait(t *testing.T, source string, lsn capture.LSN) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mu.Lock()
		got := p.lsn[source]
		p.mu.Unlock()
		if got >= lsn {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("source %s: position %s not confirmed (at %s)", source, lsn, got)
		}
		time.Sleep(time.Millisecond)
	}
}

// A view added over tables the state holds is built from the state's
// rows: its documents equal those of the same view maintained by the
// stream all along and those a fresh snapshot of the final rows builds,
// although the stream changes, deletes and inserts root rows while the
// build runs, and a restart in the middle of the build goes on from its
// recorded progress.
func TestBuildFromState(t *testing.T) {
	dir := t.TempDir()
	out := &indexRouter{indices: map[string]*memoryIndex{}}
	added := orderHistory()
	added.Name = "order_history_2"
	pos := &positions{lsn: map[string]capture.LSN{}}
	var lsn capture.LSN = 100
	send := func(r *runEngine, source string, changes ...capture.Change) capture.LSN {
		lsn += 10
		r.in <- &capture.Transaction{Source: source, XID: uint32(lsn), CommitLSN: lsn, EndLSN: lsn, CommitTime: time.Now(), Changes: changes}
		return lsn
	}
	// The rows as they end up, for the fresh snapshot at the end.
	orders := map[int64]capture.Row{}
	const n = 5000 // more than two pages of documents

	r := startEngine(t, dir, out, []*View{orderHistory()}, nil, pos.confirm)
	send(r, "consumers", ins("consumers", capture.Row{"id": int64(1), "name": "Ann", "email": "ann@example.com"}))
	send(r, "restaurants", ins("restaurants", capture.Row{"id": int64(1), "name": "Pho"}),
		ins("menu_items", capture.Row{"id": int64(1), "name": "Soup"}))
	var last capture.LSN
	for i := int64(1); i <= n; i += 500 {
		var changes []capture.Change
		for id := i; id < i+500; id++ {
			orders[id] = capture.Row{"id": id, "consumer_id": int64(1), "restaurant_id": int64(1), "status": "placed", "total_cents": id}
			changes = append(changes, ins("orders", orders[id]),
				ins("order_line_items", capture.Row{"id": id, "order_id": id, "menu_item_id": int64(1), "quantity": int64(2)}))
		}
		last = send(r, "orders", changes...)
	}
	pos.wait(t, "orders", last)
	r.stop(t)

	// Restart with the added view, built from the state; stop it after
	// its first page.
	out.blockIndex, out.blockPages, out.blocked = added.Name+"_v1", 1, make(chan struct{})
	r = startEngine(t, dir, out, []*View{orderHistory(), added}, []string{added.Name}, pos.confirm)
	select {
	case <-out.blocked:
	case <-time.After(30 * time.Second):
		t.Fatal("the build from the state sent no second page")
	}
	r.stop(t)
	out.blockIndex = ""
	progress, err := state.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, found, err := progress.BuildProgress(added.Name)
	if cerr := progress.Close(); err == nil {
		err = cerr
	}
	if err != nil || !found || p.Done || p.After == "" {
		t.Fatalf("build progress after its first page: %+v, %v, %v; want a key and not done", p, found, err)
	}

	// Go on while the stream keeps changing the view's root rows, and
	// once more after a restart.
	stream := func(r *runEngine, from, to int64) {
		for id := from; id < to; id++ {
			switch id % 3 {
			case 0:
				orders[id]["status"] = "delivered"
				last = send(r, "orders", upd("orders", orders[id]))
			case 1:
				delete(orders, id)
				last = send(r, "orders", del("orders", id))
			default:
				nid := n + id
				orders[nid] = capture.Row{"id": nid, "consumer_id": int64(1), "restaurant_id": int64(1), "status": "new", "total_cents": nid}
				last = send(r, "orders", ins("orders", orders[nid]))
			}
		}
	}
	r = startEngine(t, dir, out, []*View{orderHistory(), added}, []string{added.Name}, pos.confirm)
	stream(r, 1, 1000)
	pos.wait(t, "orders", last)
	r.stop(t)

	r = startEngine(t, dir, out, []*View{orderHistory(), added}, []string{added.Name}, pos.confirm)
	stream(r, 1000, 2500)
	pos.wait(t, "orders", last)
	deadline := time.Now().Add(30 * time.Second)
	for !r.engine.Built(added.Name) {
		if time.Now().After(deadline) {
			t.Fatal("the build from the state did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.stop(t)

	built, maintained := out.docs("order_history_2_v1"), out.docs("order_history_v1")
	if len(built) != len(orders) {
		t.Errorf("built %d documents, want %d", len(built), len(orders))
	}
	if diff := cmp.Diff(maintained, built); diff != "" {
		t.Errorf("documents built from the state differ from those maintained by the stream (-maintained +built):\n%s", diff)
	}

	// A fresh snapshot of the final rows builds the same documents.
	fresh := &indexRouter{indices: map[string]*memoryIndex{}}
	fpos := &positions{lsn: map[string]capture.LSN{}}
	f := startEngine(t, t.TempDir(), fresh, []*View{added}, nil, fpos.confirm)
	send(f, "consumers", ins("consumers", capture.Row{"id": int64(1), "name": "Ann", "email": "ann@example.com"}))
	send(f, "restaurants", ins("restaurants", capture.Row{"id": int64(1), "name": "Pho"}),
		ins("menu_items", capture.Row{"id": int64(1), "name": "Soup"}))
	var changes []capture.Change
	for _, id := range sortedIDs(orders) {
		changes = append(changes, ins("orders", orders[id]))
		if id <= n {
			changes = append(changes, ins("order_line_items", capture.Row{"id": id, "order_id": id, "menu_item_id": int64(1), "quantity": int64(2)}))
		}
	}
	last = send(f, "orders", changes...)
	fpos.wait(t, "orders", last)
	f.stop(t)
	if diff := cmp.Diff(fresh.docs("order_history_2_v1"), built); diff != "" {
		t.Errorf("documents built from the state differ from a fresh snapshot's (-fresh +built):\n%s", diff)
	}
}

func sortedIDs(m map[int64]capture.Row) []int64 { return slices.Sorted(maps.Keys(m)) }
