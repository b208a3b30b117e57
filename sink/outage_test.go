package sink

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestWriterRidesOutAnOutage makes the engine unreachable for 30 s (3 s
// with -short) while a producer keeps submitting. Submit must block at the
// buffer limit, nothing may be acknowledged while nothing can be written,
// and once the engine is back every document arrives and every ack comes,
// in order, each only after its documents can be read.
func TestWriterRidesOutAnOutage(t *testing.T) {
	outage := 30 * time.Second
	if testing.Short() {
		outage = 3 * time.Second
	}
	search := testbed.NewSearch(t)
	direct := connect(t, search.URL)
	index := search.Index("items")
	newIndex(t, direct, index, []Field{{Name: "id", Type: Long}, {Name: "rev", Type: Long}})
	target, err := url.Parse(search.URL)
	if err != nil {
		t.Fatalf("search URL: %v", err)
	}
	proxy := testbed.NewProxy(t, target.Host)
	c := connect(t, target.Scheme+"://"+proxy.Addr())

	const limit = 64 << 10
	w, err := NewWriter(c, WriterOptions{MaxBufferedBytes: limit, RetryMax: time.Second}, nil, testLogger(t))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	// Each submission holds 20 documents; the producer's 100 weigh about
	// five times the buffer limit.
	const submissions, perSubmission = 100, 20
	batches := make([][]Document, submissions)
	for n := range batches {
		for i := range perSubmission {
			batches[n] = append(batches[n], itemDoc(index, n*perSubmission+i, 1))
		}
	}
	acks := &ackLog{}
	var durableFailures atomic.Int64
	ackAfterCheck := func(n int) func() {
		record := acks.ack(n)
		return func() {
			if !readable(search, index, batches[n]) {
				durableFailures.Add(1)
			}
			record()
		}
	}

	// Before the outage: the path through the proxy works.
	if err := w.Submit(ctx, batches[0], ackAfterCheck(0)); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	acks.waitAcks(t, 1, time.Minute)

	proxy.Cut()
	var accepted atomic.Int64 // bytes of submissions Submit accepted since the cut
	var returned atomic.Int64 // submissions Submit accepted since the cut
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for n := 1; n < submissions; n++ {
			if err := w.Submit(ctx, batches[n], ackAfterCheck(n)); err != nil {
				t.Errorf("Submit %d: %v", n, err)
				return
			}
			accepted.Add(cost(batches[n]))
			returned.Add(1)
		}
	}()

	deadline := time.Now().Add(outage)
	for time.Now().Before(deadline) {
		if got := testutil.ToFloat64(w.metrics.buffered); got > limit {
			t.Fatalf("buffered bytes %v exceed the limit %d while the engine is down", got, limit)
		}
		if n := acks.len(); n != 1 {
			t.Fatalf("%d submissions acknowledged while the engine was unreachable", n-1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-produced:
		t.Fatal("all submissions were accepted while the engine was down; Submit should block at the buffer limit")
	default:
	}
	if got := accepted.Load(); got > limit {
		t.Fatalf("Submit accepted %d bytes while nothing could be written, more than the %d limit", got, limit)
	}
	t.Logf("accepted %d submissions (%d bytes) during the outage, then Submit blocked", returned.Load(), accepted.Load())

	proxy.Restore()
	<-produced
	acks.waitAcks(t, submissions, 2*time.Minute)
	if n := durableFailures.Load(); n > 0 {
		t.Errorf("%d acks came before their documents could be read", n)
	}
	var all []Document
	for _, b := range batches {
		all = append(all, b...)
	}
	if !readable(search, index, all) {
		t.Error("some documents are missing after the engine came back")
	}
}

func cost(docs []Document) int64 {
	var n int64
	for i := range docs {
		n += docs[i].cost()
	}
	return n
}

// readable reports whether every document can be read at its version or
// a newer one, straight from the engine rather than through the proxy.
func readable(search *testbed.Search, index string, docs []Document) bool {
	ids := make([]string, len(docs))
	for i := range docs {
		ids[i] = docs[i].ID
	}
	got, err := mget(search, index, ids)
	if err != nil {
		return false
	}
	for i := range docs {
		if d := got[docs[i].ID]; !d.Found || d.Version < docs[i].Version {
			return false
		}
	}
	return true
}
