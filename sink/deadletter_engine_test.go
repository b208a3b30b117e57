package sink

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestRefusedDocumentGoesToDeadLetterIndex sends a string into a long
// field within a bulk of valid documents.
func TestRefusedDocumentGoesToDeadLetterIndex(t *testing.T) {
	search := testbed.NewSearch(t)
	c := connect(t, search.URL)
	view := search.Index("orders")
	newIndex(t, c, view, []Field{{Name: "count", Type: Long}, {Name: "name", Type: Text}})
	// One lane puts all five documents into the same bulk request.
	w, err := NewWriter(c, WriterOptions{Concurrency: 1}, nil, testLogger(t))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	var docs []Document
	for i := range 5 {
		src := `{"count":` + strconv.Itoa(i) + `,"name":"n"}`
		if i == 2 {
			src = `{"count":"many","name":"n"}`
		}
		docs = append(docs, Document{Index: view, ID: strconv.Itoa(i), Version: 7, Source: json.RawMessage(src),
			View: view, Position: "0/16B37" + strconv.Itoa(i)})
	}
	acks := &ackLog{}
	if err := w.Submit(ctx, docs, acks.ack(0)); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	acks.waitAcks(t, 1, time.Minute)

	got, err := mget(search, view, []string{"0", "1", "2", "3", "4"})
	if err != nil {
		t.Fatalf("read documents: %v", err)
	}
	for id, d := range got {
		if d.Found == (id == "2") {
			t.Errorf("document %s: found=%v; want the four valid ones indexed and the refused one not", id, d.Found)
		}
	}

	search.Refresh()
	res, err := search.Do(http.MethodGet, "/"+DeadLetterIndex(view)+"/_search", nil)
	if err != nil {
		t.Fatalf("search the dead-letter index: %v", err)
	}
	var hits struct {
		Hits struct {
			Hits []struct {
				Source deadLetterRecord `json:"_source"`
			}
		}
	}
	if err := json.Unmarshal(res, &hits); err != nil {
		t.Fatalf("read dead letters: %v", err)
	}
	if len(hits.Hits.Hits) != 1 {
		t.Fatalf("dead-letter index holds %d documents, want 1: %s", len(hits.Hits.Hits), res)
	}
	dl := hits.Hits.Hits[0].Source
	if dl.ID != "2" || dl.Index != view || dl.Version != 7 || dl.Position != "0/16B372" ||
		dl.Document != string(docs[2].Source) || dl.Time.IsZero() {
		t.Errorf("dead letter %+v does not describe the refused document %+v", dl, docs[2])
	}
	if !strings.Contains(dl.Error.Type, "parsing_exception") || dl.Error.Reason == "" {
		t.Errorf("dead letter error %+v, want the engine's parsing error with its reason", dl.Error)
	}
	if got := testutil.ToFloat64(w.metrics.deadLetters.WithLabelValues(view)); got != 1 {
		t.Errorf("projector_dead_letters_total = %v, want 1", got)
	}
}

// deadLetterHits reads the dead letters of view's dead-letter index.
func deadLetterHits(t *testing.T, search *testbed.Search, view string) []deadLetterRecord {
	t.Helper()
	search.Refresh()
	res, err := search.Do(http.MethodGet, "/"+DeadLetterIndex(view)+"/_search?size=100", nil)
	if err != nil {
		t.Fatalf("search the dead-letter index: %v", err)
	}
	var hits struct {
		Hits struct {
			Hits []struct {
				Source deadLetterRecord `json:"_source"`
			}
		}
	}
	if err := json.Unmarshal(res, &hits); err != nil {
		t.Fatalf("read dead letters: %v", err)
	}
	var out []deadLetterRecord
	for _, h := range hits.Hits.Hits {
		out = append(out, h.Source)
	}
	return out
}

// TestRefusedUpdateLeavesNoStaleDocument updates a document from a value
// the mapping takes to one it refuses: the view must no longer hold the
// old revision, the dead letter must hold the refused one, and a later
// valid revision must be indexed again.
func TestRefusedUpdateLeavesNoStaleDocument(t *testing.T) {
	search := testbed.NewSearch(t)
	c := connect(t, search.URL)
	view := search.Index("orders")
	newIndex(t, c, view, []Field{{Name: "count", Type: Long}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.EnsureDeadLetterIndex(ctx, view, IndexSettings{Shards: 1, Replicas: 0}); err != nil {
		t.Fatalf("EnsureDeadLetterIndex: %v", err)
	}
	settings, err := search.Do(http.MethodGet, "/"+DeadLetterIndex(view)+"/_settings/index.number_of_replicas", nil)
	if err != nil {
		t.Fatalf("read dead-letter index settings: %v", err)
	}
	if !strings.Contains(string(settings), `"number_of_replicas":"0"`) {
		t.Errorf("dead-letter index settings %s, want the view's 0 replicas", settings)
	}
	w, err := NewWriter(c, WriterOptions{Concurrency: 1}, nil, testLogger(t))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	go w.Run(ctx)

	rev := func(id string, version int64, count string) Document {
		return Document{Index: view, ID: id, Version: version, Source: json.RawMessage(`{"count":` + count + `}`),
			View: view, Position: "0/" + strconv.FormatInt(version, 10)}
	}
	acks := &ackLog{}
	submit := func(n int, docs ...Document) {
		t.Helper()
		if err := w.Submit(ctx, docs, acks.ack(n)); err != nil {
			t.Fatalf("Submit: %v", err)
		}
		acks.waitAcks(t, n+1, time.Minute)
	}
	submit(0, rev("1", 1, "1"), rev("2", 1, "1"))
	submit(1, rev("1", 2, `"many"`), rev("2", 2, "2"))

	got, err := mget(search, view, []string{"1", "2"})
	if err != nil {
		t.Fatalf("read documents: %v", err)
	}
	if got["1"].Found {
		t.Errorf("document 1 still holds revision %d (%s) after revision 2 was refused; a reader takes it for current",
			got["1"].Version, got["1"].Source)
	}
	if !got["2"].Found || got["2"].Version != 2 {
		t.Errorf("document 2 = %+v, want revision 2 indexed beside the refused one", got["2"])
	}
	dls := deadLetterHits(t, search, view)
	if len(dls) != 1 || dls[0].ID != "1" || dls[0].Version != 2 || dls[0].Document != `{"count":"many"}` ||
		dls[0].Position != "0/2" || dls[0].View != view || dls[0].Error.Type == "" || dls[0].Time.IsZero() {
		t.Errorf("dead letters %+v, want revision 2 of document 1 with its view, position, reason and source", dls)
	}

	// A replay of the old revision must not bring it back; a newer valid
	// revision is indexed.
	submit(2, rev("1", 1, "1"))
	if got, _ := mget(search, view, []string{"1"}); got["1"].Found {
		t.Errorf("a replay of revision 1 brought back %s", got["1"].Source)
	}
	submit(3, rev("1", 3, "3"))
	if got, _ := mget(search, view, []string{"1"}); !got["1"].Found || got["1"].Version != 3 {
		t.Errorf("document 1 = %+v, want revision 3 indexed after the refused one", got["1"])
	}
}

// TestRequestRefusedAsWholeIsSplit puts a document with an id over the
// engine's 512-byte limit among valid ones: the engine refuses the whole
// bulk request, and every other document must still be indexed.
func TestRequestRefusedAsWholeIsSplit(t *testing.T) {
	search := testbed.NewSearch(t)
	c := connect(t, search.URL)
	view := search.Index("orders")
	newIndex(t, c, view, []Field{{Name: "count", Type: Long}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.EnsureDeadLetterIndex(ctx, view, testSettings); err != nil {
		t.Fatalf("EnsureDeadLetterIndex: %v", err)
	}
	w, err := NewWriter(c, WriterOptions{Concurrency: 1}, nil, testLogger(t))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	long := strings.Repeat("k", 600)
	var docs []Document
	var ids []string
	for i := range 10 {
		id := strconv.Itoa(i)
		if i == 6 {
			id = long
		}
		ids = append(ids, id)
		docs = append(docs, Document{Index: view, ID: id, Version: 1, Source: json.RawMessage(`{"count":1}`), View: view})
	}
	acks := &ackLog{}
	if err := w.Submit(ctx, docs, acks.ack(0)); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	acks.waitAcks(t, 1, time.Minute)
	got, err := mget(search, view, slices.Delete(slices.Clone(ids), 6, 7))
	if err != nil {
		t.Fatalf("read documents: %v", err)
	}
	for id, d := range got {
		if !d.Found {
			t.Errorf("document %s was not indexed: one bad id in its bulk request held it back", id)
		}
	}
	dls := deadLetterHits(t, search, view)
	if len(dls) != 1 || dls[0].ID != long || dls[0].Error.Type != "action_request_validation_exception" {
		t.Errorf("dead letters %+v, want the document with the long id, refused with action_request_validation_exception", dls)
	}
	select {
	case err := <-done:
		t.Fatalf("writer stopped: %v", err)
	default:
	}
}

// TestExistingDeadLetterIndexTakesTheViewsReplicas lets the engine create
// a dead-letter index with its default of one replica, as earlier versions
// did: ensuring it must set the view's replicas.
func TestExistingDeadLetterIndexTakesTheViewsReplicas(t *testing.T) {
	search := testbed.NewSearch(t)
	c := connect(t, search.URL)
	view := search.Index("orders")
	if _, err := search.Do(http.MethodPut, "/"+DeadLetterIndex(view), strings.NewReader(
		`{"settings":{"index":{"number_of_replicas":1}}}`)); err != nil {
		t.Fatalf("create the dead-letter index as the engine would: %v", err)
	}
	if err := c.EnsureDeadLetterIndex(context.Background(), view, IndexSettings{Shards: 1, Replicas: 0}); err != nil {
		t.Fatalf("EnsureDeadLetterIndex: %v", err)
	}
	settings, err := search.Do(http.MethodGet, "/"+DeadLetterIndex(view)+"/_settings/index.number_of_replicas", nil)
	if err != nil {
		t.Fatalf("read dead-letter index settings: %v", err)
	}
	if !strings.Contains(string(settings), `"number_of_replicas":"0"`) {
		t.Errorf("dead-letter index settings %s, want the view's 0 replicas", settings)
	}
}
