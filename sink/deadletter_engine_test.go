package sink

import (
	"context"
	"encoding/json"
	"net/http"
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
