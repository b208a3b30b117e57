package sink

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func doc(id string, version int64) Document {
	return Document{Index: "v", ID: id, Version: version, Source: json.RawMessage(`{"id":"` + id + `"}`), View: "v"}
}

func TestWriterStopsOnRefusedCredentials(t *testing.T) {
	engine := &fakeEngine{answers: []cannedAnswer{{401, `{"error":{"type":"security_exception","reason":"missing authentication credentials"}}`}}}
	w, _, done := startWriter(t, fakeClient(t, engine), fastOptions())
	if err := w.Submit(context.Background(), []Document{doc("1", 1)}, func() { t.Error("acked a document that was refused") }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "credentials") {
			t.Fatalf("Run returned %v, want an error about the credentials", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop on 401")
	}
	if err := w.Submit(context.Background(), []Document{doc("2", 1)}, nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("Submit after a fatal error returned %v, want ErrStopped", err)
	}
}

func TestWriterSplitsBatchesTheEngineFindsTooLarge(t *testing.T) {
	engine := &fakeEngine{answers: []cannedAnswer{
		{413, ``},
		{200, `{"items":[{"index":{"status":201}},{"index":{"status":201}}]}`},
		{200, `{"items":[{"index":{"status":201}},{"index":{"status":201}}]}`},
	}}
	opts := fastOptions()
	opts.Concurrency = 1
	opts.FlushInterval = time.Hour // only the count ends the batch
	opts.BulkActions = 4
	w, _, _ := startWriter(t, fakeClient(t, engine), opts)
	acked := make(chan struct{})
	docs := []Document{doc("1", 1), doc("2", 1), doc("3", 1), doc("4", 1)}
	if err := w.Submit(context.Background(), docs, func() { close(acked) }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	waitClosed(t, acked, "the ack")
	bodies := engine.bodies()
	if len(bodies) != 3 || strings.Count(bodies[1], "\n") != 4 || strings.Count(bodies[2], "\n") != 4 {
		t.Fatalf("requests %q, want the batch of 4 and then two halves of 2", bodies)
	}
	if got := testutil.ToFloat64(w.metrics.written.WithLabelValues("v", actionIndex)); got != 4 {
		t.Errorf("indexed %v documents, want 4", got)
	}
}

func TestWriterDeadLettersUnframeableSources(t *testing.T) {
	engine := &okEngine{}
	opts := fastOptions()
	opts.Concurrency = 1
	w, _, _ := startWriter(t, fakeClient(t, engine), opts)
	bad := Document{Index: "v", ID: "bad", Version: 1, Source: json.RawMessage("{\n"), View: "v"}
	acked := make(chan struct{})
	if err := w.Submit(context.Background(), []Document{doc("1", 1), bad}, func() { close(acked) }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	waitClosed(t, acked, "the ack")
	if got := testutil.ToFloat64(w.metrics.deadLetters.WithLabelValues("v")); got != 1 {
		t.Errorf("dead letters = %v, want 1", got)
	}
	if got := testutil.ToFloat64(w.metrics.written.WithLabelValues("v", actionIndex)); got != 1 {
		t.Errorf("indexed = %v, want 1", got)
	}
}

func TestSubmitBlocksWhileTheBufferIsFull(t *testing.T) {
	engine := &okEngine{release: make(chan struct{})}
	opts := fastOptions()
	opts.MaxBufferedBytes = 1000
	w, _, _ := startWriter(t, fakeClient(t, engine), opts)
	first := make(chan struct{})
	big := []Document{{Index: "v", ID: "1", Version: 1, Source: json.RawMessage(`"` + strings.Repeat("x", 900) + `"`)}}
	if err := w.Submit(context.Background(), big, func() { close(first) }); err != nil {
		t.Fatalf("first Submit: %v", err)
	}
	if got := testutil.ToFloat64(w.metrics.buffered); got != 1000 {
		t.Errorf("buffered bytes = %v, want the limit of 1000 (a larger submission takes the whole buffer)", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.Submit(ctx, []Document{doc("2", 1)}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit with a full buffer returned %v, want it to block until its context ends", err)
	}

	close(engine.release)
	waitClosed(t, first, "the first ack")
	second := make(chan struct{})
	if err := w.Submit(context.Background(), []Document{doc("2", 1)}, func() { close(second) }); err != nil {
		t.Fatalf("Submit after the buffer drained: %v", err)
	}
	waitClosed(t, second, "the second ack")
}

func TestRunDrainsWhenCancelled(t *testing.T) {
	opts := fastOptions()
	opts.FlushInterval = time.Hour // nothing is sent before cancellation
	w, err := NewWriter(fakeClient(t, &okEngine{}), opts, nil, nil)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	acked := make(chan struct{})
	if err := w.Submit(context.Background(), []Document{doc("1", 1), doc("2", 1)}, func() { close(acked) }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancellation returned %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	waitClosed(t, acked, "the ack of documents drained at shutdown")
	if err := w.Submit(context.Background(), []Document{doc("3", 1)}, nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("Submit after Run returned %v, want ErrStopped", err)
	}
}

func TestSubmitRejectsIncompleteDocuments(t *testing.T) {
	w, err := NewWriter(fakeClient(t, &okEngine{}), fastOptions(), nil, nil)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	for _, d := range []Document{{ID: "1"}, {Index: "v", ID: "1", Version: -1}} {
		if err := w.Submit(context.Background(), []Document{d}, nil); err == nil {
			t.Errorf("Submit(%+v) accepted a document the engine cannot take", d)
		}
	}
}

// TestRunWithoutDrainCancelsRequestsInFlight stops a writer whose engine
// never answers: with NoDrain, Run must return at once, without the
// acknowledgement of what was in flight.
func TestRunWithoutDrainCancelsRequestsInFlight(t *testing.T) {
	engine := &okEngine{release: make(chan struct{})} // released only when the test ends
	defer close(engine.release)
	opts := fastOptions()
	opts.NoDrain = true
	opts.DrainTimeout = time.Minute
	w, err := NewWriter(fakeClient(t, engine), opts, nil, nil)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	if err := w.Submit(context.Background(), []Document{doc("1", 1)}, func() { t.Error("acked a document the engine never took") }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // the request is in flight
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Run took %s to return after cancellation", took)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run kept waiting for an engine that never answers")
	}
}

// TestWriterDeadLettersDocumentsWithoutAnID submits a document without an
// id among valid ones: it must be dead-lettered, the others indexed, and
// nothing sent that would make the engine refuse the whole request.
func TestWriterDeadLettersDocumentsWithoutAnID(t *testing.T) {
	engine := &rulesEngine{refuseRequest: func(action string) bool { return strings.Contains(action, `"_id":""`) }}
	opts := fastOptions()
	opts.Concurrency = 1
	w, _, done := startWriter(t, fakeClient(t, engine), opts)
	acked := make(chan struct{})
	if err := w.Submit(context.Background(), []Document{doc("1", 1), doc("", 1), doc("2", 1)}, func() { close(acked) }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	waitClosed(t, acked, "the ack")
	if got := testutil.ToFloat64(w.metrics.written.WithLabelValues("v", actionIndex)); got != 2 {
		t.Errorf("indexed %v documents, want 2", got)
	}
	dls := deadLettersIn(t, engine.bodies())
	if len(dls) != 1 || dls[0].ID != "" || dls[0].Error.Type != "missing_id" {
		t.Errorf("dead letters %+v, want one for the document without an id", dls)
	}
	for _, b := range engine.bodies() {
		if strings.Contains(b, `"_id":""`) {
			t.Errorf("sent a document without an id: %q", b)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("writer stopped: %v", err)
	default:
	}
}
