package sink

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRefreshWithNextEndsWhenTheWriterStops: a refresh asked of the next
// bulk request keeps waiting past its window while a lane holds
// documents of the index behind its request in flight, and gives up as
// soon as the writer stops, whose lanes send nothing more: a waiting read
// then refreshes the index itself instead of waiting out its timeout.
func TestRefreshWithNextEndsWhenTheWriterStops(t *testing.T) {
	engine := &okEngine{release: make(chan struct{})} // answers only once the test ends
	c := fakeClient(t, engine)
	t.Cleanup(func() { close(engine.release) }) // before the server closes
	opts := fastOptions()
	opts.Concurrency, opts.NoDrain = 1, true
	w, err := NewWriter(c, opts, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = w.Run(ctx) // cancelled below
	}()
	for id := 1; id <= 2; id++ {
		if err := w.Submit(ctx, []Document{itemDoc("items_v1", id, 1)}, nil); err != nil {
			t.Fatal(err)
		}
		for id == 1 && w.holds("items_v1") {
			time.Sleep(time.Millisecond) // until the lane sent the first one
		}
	}
	type answer struct {
		ok  bool
		err error
	}
	result := make(chan answer, 1)
	go func() {
		ok, err := w.RefreshWithNext(context.Background(), "items_v1", 10*time.Millisecond, nil)
		result <- answer{ok, err}
	}()
	select {
	case a := <-result:
		t.Fatalf("RefreshWithNext returned %v, %v after its window, though a lane holds a document of the index", a.ok, a.err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case a := <-result:
		if a.ok || a.err != nil {
			t.Errorf("RefreshWithNext after the writer stopped = %v, %v; want false, nil", a.ok, a.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RefreshWithNext still waits 10 s after the writer stopped")
	}
	<-stopped
}
