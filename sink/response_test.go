package sink

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBulkAnswers(t *testing.T) {
	mappingError := `{"items":[{"index":{"status":400,"error":{"type":"mapper_parsing_exception",` +
		`"reason":"failed to parse field [n] of type [long]","caused_by":{"type":"illegal_argument_exception",` +
		`"reason":"For input string: \"x\""}}}}]}`
	tests := []struct {
		name    string
		doc     Document
		answers []cannedAnswer
		// written is the expected projector_documents_written_total by action.
		written  map[string]float64
		retries  float64
		requests int
		// lastBody is a substring the last request must contain.
		lastBody string
		// sent are substrings some request must contain.
		sent []string
	}{
		{
			name:     "indexed",
			doc:      Document{Index: "v", ID: "1", Version: 2, Source: json.RawMessage(`{"n":1}`), View: "v"},
			answers:  []cannedAnswer{{200, `{"items":[{"index":{"status":201}}]}`}},
			written:  map[string]float64{actionIndex: 1},
			requests: 1,
		},
		{
			name: "version conflict is an older revision",
			doc:  Document{Index: "v", ID: "1", Version: 1, Source: json.RawMessage(`{"n":1}`), View: "v"},
			answers: []cannedAnswer{{200, `{"items":[{"index":{"status":409,"error":{` +
				`"type":"version_conflict_engine_exception","reason":"current version [2] is higher"}}}]}`}},
			written:  map[string]float64{actionConflict: 1},
			requests: 1,
		},
		{
			name:     "delete of a missing document",
			doc:      Document{Index: "v", ID: "1", Version: 3, View: "v"},
			answers:  []cannedAnswer{{200, `{"items":[{"delete":{"status":404}}]}`}},
			written:  map[string]float64{actionDelete: 1},
			requests: 1,
		},
		{
			name: "429 item is retried",
			doc:  Document{Index: "v", ID: "1", Version: 2, Source: json.RawMessage(`{"n":1}`), View: "v"},
			answers: []cannedAnswer{
				{200, `{"items":[{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}}]}`},
				{200, `{"items":[{"index":{"status":201}}]}`},
			},
			written:  map[string]float64{actionIndex: 1},
			retries:  1,
			requests: 2,
			lastBody: `"_index":"v","_id":"1","version":2`,
		},
		{
			name: "503 for the whole request is retried",
			doc:  Document{Index: "v", ID: "1", Version: 2, Source: json.RawMessage(`{"n":1}`), View: "v"},
			answers: []cannedAnswer{
				{503, `{"error":{"type":"unavailable_shards_exception","reason":"no shard"},"status":503}`},
				{200, `{"items":[{"index":{"status":200}}]}`},
			},
			written:  map[string]float64{actionIndex: 1},
			retries:  1,
			requests: 2,
		},
		{
			name: "mapping error is dead-lettered",
			doc:  Document{Index: "v_v1", ID: "1", Version: 2, Source: json.RawMessage(`{"n":"x"}`), View: "v", Position: "0/16B3748"},
			answers: []cannedAnswer{
				{200, mappingError},
				{200, `{"items":[{"index":{"status":201}}]}`},
				{200, `{"items":[{"delete":{"status":200}}]}`},
			},
			written:  map[string]float64{actionDeadLetter: 1},
			requests: 3,
			sent:     []string{`"_index":"v-deadletter"`},
			lastBody: `{"delete":{"_index":"v_v1","_id":"1","version":2,"version_type":"external"}}`,
		},
		{
			name: "413 for one document is dead-lettered",
			doc:  Document{Index: "v", ID: "1", Version: 2, Source: json.RawMessage(`{"n":1}`), View: "v"},
			answers: []cannedAnswer{
				{413, ``},
				{200, `{"items":[{"index":{"status":201}}]}`},
				{200, `{"items":[{"delete":{"status":404}}]}`},
			},
			written:  map[string]float64{actionDeadLetter: 1},
			requests: 3,
			sent:     []string{`"type":"request_entity_too_large"`},
			lastBody: `{"delete":{"_index":"v","_id":"1","version":2,"version_type":"external"}}`,
		},
		{
			name: "400 for the whole request of one document is dead-lettered, not retried",
			doc:  Document{Index: "v", ID: strings.Repeat("k", 513), Version: 2, Source: json.RawMessage(`{"n":1}`), View: "v"},
			answers: []cannedAnswer{
				{400, `{"error":{"type":"action_request_validation_exception","reason":"Validation Failed: 1: id is too long"},"status":400}`},
				{200, `{"items":[{"index":{"status":201}}]}`},
				{400, `{"error":{"type":"action_request_validation_exception","reason":"Validation Failed: 1: id is too long"},"status":400}`},
			},
			written:  map[string]float64{actionDeadLetter: 1},
			requests: 3,
			sent:     []string{`"type":"action_request_validation_exception","reason":"Validation Failed: 1: id is too long"`},
			lastBody: `{"delete":{"_index":"v","_id":"` + strings.Repeat("k", 513),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine := &fakeEngine{answers: tt.answers}
			w, _, _ := startWriter(t, fakeClient(t, engine), fastOptions())
			acked := make(chan struct{})
			if err := w.Submit(context.Background(), []Document{tt.doc}, func() { close(acked) }); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			waitClosed(t, acked, "the ack")

			for _, action := range []string{actionIndex, actionDelete, actionConflict, actionDeadLetter} {
				got := testutil.ToFloat64(w.metrics.written.WithLabelValues("v", action))
				if got != tt.written[action] {
					t.Errorf("written{action=%q} = %v, want %v", action, got, tt.written[action])
				}
			}
			if got := testutil.ToFloat64(w.metrics.retries); got != tt.retries {
				t.Errorf("retries = %v, want %v", got, tt.retries)
			}
			bodies := engine.bodies()
			if len(bodies) != tt.requests {
				t.Fatalf("%d requests, want %d: %q", len(bodies), tt.requests, bodies)
			}
			if last := bodies[len(bodies)-1]; !strings.Contains(last, tt.lastBody) {
				t.Errorf("last request %q does not contain %q", last, tt.lastBody)
			}
			for _, want := range tt.sent {
				if !strings.Contains(strings.Join(bodies, ""), want) {
					t.Errorf("requests %q do not contain %q", bodies, want)
				}
			}
		})
	}
}

func TestDeadLetterKeepsTheDocumentAndTheError(t *testing.T) {
	engine := &fakeEngine{answers: []cannedAnswer{
		{200, `{"items":[{"index":{"status":201}},{"index":{"status":400,"error":{"type":"document_parsing_exception",` +
			`"reason":"bad","caused_by":{"type":"illegal_argument_exception","reason":"not a long"}}}}]}`},
		{200, `{"items":[{"index":{"status":201}}]}`},
	}}
	opts := fastOptions()
	opts.Concurrency = 1 // both documents in one bulk request
	w, _, _ := startWriter(t, fakeClient(t, engine), opts)
	docs := []Document{
		{Index: "o_v1", ID: "1", Version: 5, Source: json.RawMessage(`{"n":1}`), View: "o", Position: "0/1"},
		{Index: "o_v1", ID: "2", Version: 6, Source: json.RawMessage(`{"n":"x"}`), View: "o", Position: "0/2"},
	}
	acked := make(chan struct{})
	if err := w.Submit(context.Background(), docs, func() { close(acked) }); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	waitClosed(t, acked, "the ack")
	bodies := engine.bodies()
	if len(bodies) != 3 {
		t.Fatalf("requests %q, want the batch, the dead letter and the retraction of document 2", bodies)
	}
	lines := strings.Split(strings.TrimSpace(bodies[1]), "\n")
	if len(lines) != 2 {
		t.Fatalf("dead-letter request %q, want one action", bodies[1])
	}
	var rec deadLetterRecord
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatalf("dead letter %q: %v", lines[1], err)
	}
	want := deadLetterRecord{View: "o", Index: "o_v1", ID: "2", Version: 6, Position: "0/2", Action: "index",
		Document: `{"n":"x"}`, Error: deadLetterError{Type: "document_parsing_exception", Reason: "bad",
			CausedBy: "illegal_argument_exception: not a long"}}
	rec.Time = want.Time
	if rec != want {
		t.Errorf("dead letter\n got %+v\nwant %+v", rec, want)
	}
	if got := testutil.ToFloat64(w.metrics.deadLetters.WithLabelValues("o")); got != 1 {
		t.Errorf("projector_dead_letters_total{view=o} = %v, want 1", got)
	}
}
