package transform

import (
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/state"
)

var updateStateGolden = flag.Bool("update-state-golden", false, "write the state format golden files from this build")

// stateGolden is the golden state: a directory written by this scenario
// and the dump of every key and value it holds.
const (
	stateGoldenDir  = "state/testdata/state-v1"
	stateGoldenDump = "state/testdata/state-v1.kv"
)

// tagsView is a view over a table with a text key, so that the state
// holds key values in both their integer and their JSON store forms.
func tagsView() *View {
	return &View{Name: "tags", Root: &Node{Kind: Root, Source: "orders", Table: tbl("tags"), Key: []string{"code"},
		Fields: []Field{{"code", "code"}, {"label", "label"}}}}
}

// writeGoldenScenario writes rows, join indexes, checkpoints, pending
// marks, a slot mark and table identities to the store in dir, through the
// engine, the way projector writes them.
func writeGoldenScenario(t *testing.T, dir string) {
	t.Helper()
	store, err := state.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	index := newMemoryIndex()
	h := &harness{t: t, dir: dir, store: store, index: index, in: make(chan *capture.Transaction), done: make(chan error, 1),
		confirmed: map[string]capture.LSN{}, lsn: 100}
	h.engine, err = NewEngine(store, []*View{orderHistory(), tagsView()}, index, h.confirm, Options{},
		NewMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.engine.Run(ctx, h.in) }()
	t.Cleanup(h.stop)

	seed(h)
	h.sync("orders", h.txn("orders",
		ins("orders", capture.Row{"id": int64(-5), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "new", "total_cents": int64(990)}),
		ins("order_line_items", capture.Row{"id": int64(12), "order_id": int64(-5), "menu_item_id": int64(31), "quantity": int64(4)}),
		capture.Change{Op: capture.Insert, Table: tbl("tags"), Key: []string{"code"}, New: capture.Row{"code": "eu-west", "label": "EU"}},
		capture.Change{Op: capture.Insert, Table: tbl("tags"), Key: []string{"code"}, New: capture.Row{"code": "us", "label": "US"}}))
	h.sync("orders", h.txn("orders",
		upd("orders", capture.Row{"id": int64(1), "consumer_id": int64(7), "restaurant_id": int64(3), "status": "paid"}, "total_cents"),
		del("order_line_items", 11)))
	// The last change is never acknowledged: its documents stay pending.
	index.mu.Lock()
	index.hold = true
	index.mu.Unlock()
	h.txn("consumers", upd("consumers", capture.Row{"id": int64(7), "name": "Grace", "email": "ada@example.com"}))
	deadline := time.Now().Add(time.Minute)
	for {
		index.mu.Lock()
		held := len(index.held)
		index.mu.Unlock()
		if held > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the held change was never submitted")
		}
		time.Sleep(time.Millisecond)
	}
	if err := store.SetSlotMark("orders", 0x16B3748); err != nil {
		t.Fatal(err)
	}
	if err := store.SetTableOIDs("orders", map[string]uint32{"public.orders": 16390, "public.order_line_items": 16401}); err != nil {
		t.Fatal(err)
	}
	h.stop()
}

// dumpState lists every key and value of the store in dir, in hex, one
// pair a line, leaving out the version ceiling, which follows the clock.
func dumpState(t *testing.T, dir string) string {
	t.Helper()
	store, err := state.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var out strings.Builder
	err = store.Walk(func(k, v []byte) error {
		if !bytes.Equal(k, []byte("m\x00version-ceiling")) {
			fmt.Fprintf(&out, "%s\t%s\n", hex.EncodeToString(k), hex.EncodeToString(v))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestStateFormatUnchanged: the engine writes the same keys and values as
// the build that wrote the golden state, byte for byte.
func TestStateFormatUnchanged(t *testing.T) {
	dir := t.TempDir()
	writeGoldenScenario(t, dir)
	got := dumpState(t, dir)
	if *updateStateGolden {
		if err := os.RemoveAll(stateGoldenDir); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(stateGoldenDir, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(stateGoldenDump, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(stateGoldenDump)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("state written differs from %s:\n got:\n%s\nwant:\n%s", stateGoldenDump, got, want)
	}
}
