package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/internal/testbed"
)

// inFlight counts concurrent requests to report how many bulks overlapped.
type inFlight struct {
	next      esapi.Transport
	now, peak atomic.Int64
}

func (f *inFlight) Perform(req *http.Request) (*http.Response, error) {
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
	return f.next.Perform(req)
}

func itemDoc(index string, id, rev int) Document {
	if rev < 0 {
		return Document{Index: index, ID: strconv.Itoa(id), Version: int64(-rev), View: "items"}
	}
	src := fmt.Sprintf(`{"id":%d,"rev":%d}`, id, rev)
	return Document{Index: index, ID: strconv.Itoa(id), Version: int64(rev), Source: json.RawMessage(src), View: "items"}
}

// TestWriterKeepsLatestRevision writes 100,000 revisions of 10,000
// documents from four producers at once and checks that every document
// ends at its latest revision and every submission is acknowledged once.
func TestWriterKeepsLatestRevision(t *testing.T) {
	search := testbed.NewSearch(t)
	c := connect(t, search.URL)
	index := search.Index("items")
	newIndex(t, c, index, []Field{{Name: "id", Type: Long}, {Name: "rev", Type: Long}})
	counter := &inFlight{next: c.Transport}
	c.API = esapi.New(counter)

	const ids, revisions, producers, batch = 10_000, 10, 4, 250
	reg := prometheus.NewRegistry()
	w, err := NewWriter(c, WriterOptions{BulkActions: 500, Concurrency: 4}, reg, testLogger(t))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	// Producer p owns the ids ≡ p (mod producers) and submits revisions
	// 1..10 of each in order; every tenth id is deleted at revision 11.
	logs := make([]*ackLog, producers)
	submissions := make([]int, producers)
	var wg sync.WaitGroup
	for p := range producers {
		var docs []Document
		for rev := 1; rev <= revisions+1; rev++ {
			for id := p; id < ids; id += producers {
				switch {
				case rev <= revisions:
					docs = append(docs, itemDoc(index, id, rev))
				case id%10 == 0:
					docs = append(docs, itemDoc(index, id, -rev))
				}
			}
		}
		logs[p] = &ackLog{}
		submissions[p] = (len(docs) + batch - 1) / batch
		wg.Go(func() {
			for n := range submissions[p] {
				part := docs[n*batch : min((n+1)*batch, len(docs))]
				if err := w.Submit(ctx, part, logs[p].ack(n)); err != nil {
					t.Errorf("producer %d: Submit %d: %v", p, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for p := range producers {
		logs[p].waitAcks(t, submissions[p], 5*time.Minute)
	}
	t.Logf("peak bulk requests in flight: %d", counter.peak.Load())

	all := make([]string, ids)
	for i := range all {
		all[i] = strconv.Itoa(i)
	}
	got, err := mget(search, index, all)
	if err != nil {
		t.Fatalf("read documents: %v", err)
	}
	for i, id := range all {
		d := got[id]
		if i%10 == 0 {
			if d.Found {
				t.Errorf("document %s exists at version %d; its last revision deleted it", id, d.Version)
			}
			continue
		}
		want := fmt.Sprintf(`{"id":%d,"rev":%d}`, i, revisions)
		if !d.Found || d.Version != revisions || string(d.Source) != want {
			t.Errorf("document %s: found=%v version %d source %s, want version %d source %s",
				id, d.Found, d.Version, d.Source, revisions, want)
		}
	}

	var written float64
	for _, action := range []string{actionIndex, actionDelete, actionConflict} {
		written += testutil.ToFloat64(w.metrics.written.WithLabelValues("items", action))
	}
	if want := float64(ids*revisions + ids/10); written != want {
		t.Errorf("projector_documents_written_total adds up to %v, want every submitted revision (%v)", written, want)
	}
	if got := testutil.ToFloat64(w.metrics.buffered); got != 0 {
		t.Errorf("projector_sink_buffered_bytes = %v after every ack, want 0", got)
	}
}

// TestReplayingOlderRevisionsChangesNothing writes revision 2, then
// replays revision 1 with different content.
func TestReplayingOlderRevisionsChangesNothing(t *testing.T) {
	search := testbed.NewSearch(t)
	c := connect(t, search.URL)
	index := search.Index("items")
	newIndex(t, c, index, []Field{{Name: "id", Type: Long}, {Name: "rev", Type: Long}})
	w, err := NewWriter(c, WriterOptions{}, nil, testLogger(t))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	var newer, older []Document
	var ids []string
	for id := range 200 {
		newer = append(newer, itemDoc(index, id, 2))
		older = append(older, itemDoc(index, id, 1))
		ids = append(ids, strconv.Itoa(id))
	}
	acks := &ackLog{}
	if err := w.Submit(ctx, newer, acks.ack(0)); err != nil {
		t.Fatalf("Submit newer: %v", err)
	}
	acks.waitAcks(t, 1, time.Minute)
	before, err := mget(search, index, ids)
	if err != nil {
		t.Fatalf("read documents: %v", err)
	}

	if err := w.Submit(ctx, older, acks.ack(1)); err != nil {
		t.Fatalf("Submit older: %v", err)
	}
	acks.waitAcks(t, 2, time.Minute)
	after, err := mget(search, index, ids)
	if err != nil {
		t.Fatalf("read documents: %v", err)
	}
	if len(before) != len(ids) || !reflect.DeepEqual(before, after) {
		t.Errorf("replaying older revisions changed the index:\nbefore %v\nafter  %v", before, after)
	}
	if got := testutil.ToFloat64(w.metrics.written.WithLabelValues("items", actionConflict)); got != 200 {
		t.Errorf("conflicts = %v, want 200 (every replayed revision)", got)
	}
}
