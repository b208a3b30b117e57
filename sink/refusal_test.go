package sink

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// rulesEngine answers bulk requests like the engine does for documents it
// refuses: it refuses a whole request when any action line matches
// refuseRequest (as for an id over 512 bytes), and single actions that
// match refuseItem (as for a value that breaks the mapping). It keeps the
// request bodies.
type rulesEngine struct {
	refuseRequest func(action string) bool
	refuseItem    func(action string) bool

	mu       sync.Mutex
	requests []string
}

func (e *rulesEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.requests = append(e.requests, string(body))
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	var items []string
	for _, line := range strings.Split(string(body), "\n") {
		isIndex, isDelete := strings.HasPrefix(line, `{"index":`), strings.HasPrefix(line, `{"delete":`)
		if !isIndex && !isDelete {
			continue
		}
		if e.refuseRequest != nil && e.refuseRequest(line) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"type":"action_request_validation_exception",`+
				`"reason":"Validation Failed: 1: id [x] is too long, must be no longer than 512 bytes;"},"status":400}`)
			return
		}
		switch {
		case e.refuseItem != nil && e.refuseItem(line):
			items = append(items, `{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n]"}}}`)
		case isIndex:
			items = append(items, `{"index":{"status":201}}`)
		default:
			items = append(items, `{"delete":{"status":200}}`)
		}
	}
	io.WriteString(w, `{"items":[`+strings.Join(items, ",")+`]}`)
}

func (e *rulesEngine) bodies() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.requests...)
}

// deadLettersIn returns the dead-letter records sent in bodies.
func deadLettersIn(t *testing.T, bodies []string) []deadLetterRecord {
	t.Helper()
	var out []deadLetterRecord
	for _, b := range bodies {
		lines := strings.Split(b, "\n")
		for i := 0; i+1 < len(lines); i++ {
			if strings.HasPrefix(lines[i], `{"index":{"_index":"v-deadletter"`) {
				var rec deadLetterRecord
				if err := json.Unmarshal([]byte(lines[i+1]), &rec); err != nil {
					t.Fatalf("dead letter %q: %v", lines[i+1], err)
				}
				out = append(out, rec)
			}
		}
	}
	return out
}

// TestWriterSplitsARefusedRequest has the engine refuse every bulk request
// that carries one document: the batch must be halved until that document
// is alone, every other document written, the refused one dead-lettered
// with the engine's reason, and the writer must go on.
func TestWriterSplitsARefusedRequest(t *testing.T) {
	engine := &rulesEngine{refuseRequest: func(action string) bool { return strings.Contains(action, `"_id":"bad"`) }}
	opts := fastOptions()
	opts.Concurrency = 1
	opts.FlushInterval = time.Hour // only the count ends the batch
	opts.BulkActions = 16
	w, _, done := startWriter(t, fakeClient(t, engine), opts)
	var docs []Document
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "bad", "k", "l", "m", "n", "o"} {
		docs = append(docs, doc(id, 3))
	}
	acked := make(chan struct{})
	if err := w.Submit(context.Background(), docs, func() { close(acked) }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	waitClosed(t, acked, "the ack of a batch with a document the engine refuses")

	if got := testutil.ToFloat64(w.metrics.written.WithLabelValues("v", actionIndex)); got != 15 {
		t.Errorf("indexed %v documents, want the 15 the engine accepts", got)
	}
	if got := testutil.ToFloat64(w.metrics.deadLetters.WithLabelValues("v")); got != 1 {
		t.Errorf("dead letters = %v, want 1", got)
	}
	bodies := engine.bodies()
	// 1 refused batch of 16, then per halving one refused and one accepted
	// half (8, 4, 2, 1), then the dead letter and the retraction.
	if len(bodies) > 11 {
		t.Errorf("%d requests to isolate one document in 16, want at most 11", len(bodies))
	}
	dls := deadLettersIn(t, bodies)
	if len(dls) != 1 {
		t.Fatalf("dead letters sent: %+v, want one for document bad", dls)
	}
	if dl := dls[0]; dl.ID != "bad" || dl.Version != 3 || dl.Error.Type != "action_request_validation_exception" ||
		!strings.Contains(dl.Error.Reason, "too long") || dl.Document != string(docs[10].Source) {
		t.Errorf("dead letter %+v does not say which document was refused and why", dl)
	}
	// The writer is still running: later documents go through.
	again := make(chan struct{})
	if err := w.Submit(context.Background(), docs, func() { close(again) }); err != nil {
		t.Fatalf("Submit after the refusal: %v", err)
	}
	waitClosed(t, again, "the ack of later documents")
	select {
	case err := <-done:
		t.Fatalf("writer stopped on a refused request: %v", err)
	default:
	}
}

// TestWriterRetractsTheRevisionBeforeARefusedOne has the engine refuse a
// revision of a document: after its dead letter, the writer must delete
// the document at the refused revision's version, so the older revision
// the index holds is not taken for current.
func TestWriterRetractsTheRevisionBeforeARefusedOne(t *testing.T) {
	engine := &rulesEngine{refuseItem: func(action string) bool {
		return strings.HasPrefix(action, `{"index":{"_index":"v","_id":"2"`)
	}}
	opts := fastOptions()
	opts.Concurrency = 1
	w, _, _ := startWriter(t, fakeClient(t, engine), opts)
	acked := make(chan struct{})
	if err := w.Submit(context.Background(), []Document{doc("1", 9), doc("2", 9)}, func() { close(acked) }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	waitClosed(t, acked, "the ack")
	bodies := strings.Join(engine.bodies(), "")
	dl := strings.Index(bodies, `{"index":{"_index":"v-deadletter"`)
	retract := strings.Index(bodies, `{"delete":{"_index":"v","_id":"2","version":9,"version_type":"external"}}`)
	if dl < 0 || retract < 0 || retract < dl {
		t.Fatalf("requests %q: want the dead letter of document 2, then a delete of it at version 9", bodies)
	}
	if got := testutil.ToFloat64(w.metrics.written.WithLabelValues("v", actionDeadLetter)); got != 1 {
		t.Errorf("written{action=dead_letter} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(w.metrics.deadLetters.WithLabelValues("v")); got != 1 {
		t.Errorf("dead letters = %v, want 1 (counted once, not per step)", got)
	}
	if got := testutil.ToFloat64(w.metrics.written.WithLabelValues("v", actionDelete)); got != 0 {
		t.Errorf("written{action=delete} = %v; the retraction is part of the dead letter", got)
	}
}

// TestWriterStopsWhenDeadLettersAreRefused has the engine refuse every
// request: documents are dead-lettered, the dead letters refused too, and
// the writer must stop with an error instead of retrying forever.
func TestWriterStopsWhenDeadLettersAreRefused(t *testing.T) {
	engine := &rulesEngine{refuseRequest: func(string) bool { return true }}
	opts := fastOptions()
	opts.Concurrency = 1
	w, _, done := startWriter(t, fakeClient(t, engine), opts)
	if err := w.Submit(context.Background(), []Document{doc("1", 1), doc("2", 1)}, func() { t.Error("acked documents kept nowhere") }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "dead letter") {
			t.Fatalf("Run returned %v, want an error about the refused dead letter", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("writer kept retrying requests the engine refuses")
	}
}

func TestDeadLetterOfATooLargeDocumentIsCut(t *testing.T) {
	big := Document{Index: "v", ID: "1", Version: 2, View: "v",
		Source: json.RawMessage(`{"s":"` + strings.Repeat("é", maxDeadLetterSource) + `"}`)}
	cases := []struct {
		cause     *itemError
		truncated bool
	}{
		{&itemError{Type: typeTooLarge, Reason: "too large"}, true},
		{&itemError{Type: "mapper_parsing_exception", Reason: "failed to parse"}, false},
	}
	for _, c := range cases {
		dl, err := deadLetter(&big, c.cause, time.Now())
		if err != nil {
			t.Fatalf("deadLetter: %v", err)
		}
		var rec deadLetterRecord
		if err := json.Unmarshal(dl.Source, &rec); err != nil {
			t.Fatalf("dead letter is not JSON: %v", err)
		}
		if rec.Truncated != c.truncated || (len(rec.Document) <= maxDeadLetterSource) != c.truncated {
			t.Errorf("%s: dead letter keeps %d bytes of %d, truncated=%v; want truncated=%v",
				c.cause.Type, len(rec.Document), len(big.Source), rec.Truncated, c.truncated)
		}
	}
}
