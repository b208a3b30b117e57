package sink

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestRefreshWithNextOpenSearch: see testRefreshWithNext.
func TestRefreshWithNextOpenSearch(t *testing.T) { testRefreshWithNext(t, testbed.NewSearch(t)) }

// TestRefreshWithNextElasticsearch8: see testRefreshWithNext.
func TestRefreshWithNextElasticsearch8(t *testing.T) {
	testRefreshWithNext(t, testbed.NewElasticsearch8(t))
}

// testRefreshWithNext: on an index that never refreshes on its own, the
// bulk request RefreshWithNext marks makes searchable its own document and
// the one acknowledged before it was sent, and says so; with nothing
// written to the index it reports no refresh, and the bulk requests after
// it do not ask for one.
func testRefreshWithNext(t *testing.T, search *testbed.Search) {
	c := connect(t, search.URL)
	index := search.Index("items")
	newIndex(t, c, index, []Field{{Name: "id", Type: Long}, {Name: "rev", Type: Long}})
	if _, err := search.Do("PUT", "/"+index+"/_settings", strings.NewReader(`{"index":{"refresh_interval":"-1"}}`)); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		body, err := search.Do("GET", "/"+index+"/_count", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Count int }
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		return got.Count
	}
	w, err := NewWriter(c, WriterOptions{Concurrency: 2}, prometheus.NewRegistry(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	submit := func(id int) {
		t.Helper()
		acked := make(chan struct{})
		if err := w.Submit(ctx, []Document{itemDoc(index, id, 1)}, func() { close(acked) }); err != nil {
			t.Fatal(err)
		}
		select {
		case <-acked:
		case <-time.After(30 * time.Second):
			t.Fatalf("document %d not acknowledged", id)
		}
	}

	submit(1)
	if n := count(); n != 0 {
		t.Fatalf("%d documents searchable before any refresh; the test needs an index that does not refresh", n)
	}
	var sent atomic.Int32
	result := make(chan bool, 1)
	go func() {
		ok, err := w.RefreshWithNext(ctx, index, 30*time.Second, func() { sent.Add(1) })
		if err != nil {
			t.Error(err)
		}
		result <- ok
	}()
	// Document 2 goes out after the ticket is taken or not at all: wait
	// for the ticket to be queued.
	for w.refreshWanted.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	submit(2)
	if ok := <-result; !ok {
		t.Fatal("RefreshWithNext: the bulk request did not report a refresh")
	}
	if n := sent.Load(); n != 1 {
		t.Errorf("sent hook called %d times, want once", n)
	}
	if n := count(); n != 2 {
		t.Errorf("%d documents searchable after the bulk request's own refresh, want 2: its own and the one acknowledged before it", n)
	}

	// Nothing written to the index: no refresh, and none later either.
	if ok, err := w.RefreshWithNext(ctx, index, 50*time.Millisecond, nil); ok || err != nil {
		t.Errorf("RefreshWithNext with nothing written = %v, %v; want false, nil", ok, err)
	}
	if n := w.refreshWanted.Load(); n != 0 {
		t.Errorf("%d tickets left after the window ended, want none", n)
	}
	submit(3)
	if n := count(); n != 2 {
		t.Errorf("%d documents searchable after a plain bulk request, want 2: it must not ask for a refresh", n)
	}
}
