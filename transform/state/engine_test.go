package state_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
	"github.com/projector-dev/projector/transform/state"
)

// engine runs a transform engine with one view over a store, writing to
// an index that acknowledges every document at once.
type engine struct {
	t         *testing.T
	in        chan *capture.Transaction
	done      chan error
	lsn       capture.LSN
	mu        sync.Mutex
	confirmed map[string]capture.LSN
}

type ackAll struct{}

func (ackAll) Submit(_ context.Context, _ []sink.Document, ack func()) error {
	ack()
	return nil
}

func newEngine(t *testing.T, store *state.Store, log *slog.Logger) *engine {
	t.Helper()
	h := &engine{t: t, in: make(chan *capture.Transaction), done: make(chan error, 1), lsn: 100, confirmed: map[string]capture.LSN{}}
	orders := &transform.View{Name: "orders", Root: &transform.Node{Kind: transform.Root, Source: "orders",
		Table: capture.Table{Schema: "public", Name: "orders"}, Key: []string{"id"}, Fields: []transform.Field{{Column: "status", Name: "status"}}}}
	e, err := transform.NewEngine(store, []*transform.View{orders}, ackAll{}, h.confirm, transform.Options{},
		transform.NewMetrics(prometheus.NewRegistry()), log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { h.done <- e.Run(ctx, h.in) }()
	return h
}

func (h *engine) confirm(source string, lsn capture.LSN) {
	h.mu.Lock()
	h.confirmed[source] = max(h.confirmed[source], lsn)
	h.mu.Unlock()
}

// txn sends one transaction of changes to source and returns its position.
func (h *engine) txn(source string, changes ...capture.Change) capture.LSN {
	h.lsn += 10
	h.in <- &capture.Transaction{Source: source, XID: uint32(h.lsn), CommitLSN: h.lsn, EndLSN: h.lsn,
		CommitTime: time.Now(), Changes: changes}
	return h.lsn
}

// sync waits until the engine confirmed lsn of source.
func (h *engine) sync(source string, lsn capture.LSN) {
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
	return capture.Change{Op: capture.Insert, Table: capture.Table{Schema: "public", Name: table}, Key: []string{"id"}, New: row}
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFullStateDisk: when the state store cannot write its files, the
// engine stops with one clear error instead of stalling behind retried
// flushes, confirms nothing it applied after, and the retries do not
// flood the log.
func TestFullStateDisk(t *testing.T) {
	fs := &state.FullDisk{FS: vfs.Default}
	var logged lockedBuffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	store, err := state.OpenOn(dir, log, fs)
	if err != nil {
		t.Fatal(err)
	}
	h := newEngine(t, store, log)

	before := h.txn("orders", ins("orders", capture.Row{"id": int64(1), "status": "new", "consumer_id": int64(1)}))
	h.sync("orders", before)
	if err := store.Err(); err != nil {
		t.Fatalf("healthy store reports %v", err)
	}

	fs.Full.Store(true)
	if err := store.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-store.Failed():
	case <-time.After(time.Minute):
		t.Fatal("the store did not notice that it cannot write its files")
	}
	time.Sleep(300 * time.Millisecond) // the storage engine retries the flush meanwhile, as fast as it can

	var runErr error
	select {
	case runErr = <-h.done:
	case <-time.After(time.Minute):
		t.Fatal("the engine keeps running on a store that cannot write")
	}
	if !errors.Is(runErr, syscall.ENOSPC) || !strings.Contains(runErr.Error(), "state.dir") {
		t.Errorf("engine stopped with %v; want the full disk, and what to do about state.dir", runErr)
	}
	// Nothing more may be confirmed: a group offered now is refused.
	select {
	case h.in <- &capture.Transaction{Source: "orders", XID: 1, CommitLSN: before + 10, EndLSN: before + 10,
		CommitTime: time.Now()}:
		t.Error("the stopped engine took another transaction")
	case <-time.After(100 * time.Millisecond):
	}
	h.mu.Lock()
	confirmed := h.confirmed["orders"]
	h.mu.Unlock()
	if confirmed != before {
		t.Errorf("confirmed %s after the failure, want %s", confirmed, before)
	}

	out := logged.String()
	if n := strings.Count(out, "level=ERROR"); n > 3 {
		t.Errorf("%d error lines while the flush was retried, want one for the failure and at most one per kind of retry:\n%s", n, out)
	}
	if !strings.Contains(out, "state store cannot write; stopping") {
		t.Errorf("the failure is not logged:\n%s", out)
	}
	fs.Full.Store(false)
	if err := store.Close(); err != nil {
		t.Logf("close after the failure: %v", err)
	}
}
