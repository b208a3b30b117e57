package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/capture/envelope"
	"github.com/projector-dev/projector/config"
)

// TestTailPrintsValuesAsDocuments checks that every format of tail
// prints a value exactly as the index stores it, including those JSON
// cannot carry as they are (years past 9999 and before 1 BC, NaN and
// infinite floats, also in arrays).
func TestTailPrintsValuesAsDocuments(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string // the value as JSON
	}{
		{"finite float", 1.5, `1.5`},
		{"NaN", math.NaN(), `"NaN"`},
		{"infinity", math.Inf(1), `"Infinity"`},
		{"minus infinity", math.Inf(-1), `"-Infinity"`},
		{"time in range", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), `"2026-01-02T03:04:05Z"`},
		{"year 10000", time.Date(10000, 1, 2, 3, 4, 5, 6000, time.UTC), `"+10000-01-02T03:04:05.000006Z"`},
		{"year 2 BC", time.Date(-1, 1, 2, 0, 0, 0, 0, time.UTC), `"-0001-01-02T00:00:00Z"`},
		{"year 1 BC", time.Date(0, 1, 2, 0, 0, 0, 0, time.UTC), `"0000-01-02T00:00:00Z"`},
		{"array", []any{1.5, math.Inf(-1), []any{math.NaN()}}, `[1.5,"-Infinity",["NaN"]]`},
		{"numeric", capture.Numeric("12.00"), `"12.00"`},
		{"text", "infinity", `"infinity"`},
		{"null", nil, `null`},
	}
	cfg := &config.Config{Sources: map[string]config.Source{"shop": {DSN: "postgres://projector@db.example/shopdb"}}}
	for _, f := range envelope.Formats() {
		enc, err := tailEncoder(f, cfg, "shop")
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tt := range tests {
			t.Run(string(f)+"/"+tt.name, func(t *testing.T) {
				txn := &capture.Transaction{Source: "shop", XID: 7, CommitLSN: 0x100, EndLSN: 0x120,
					CommitTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
					Changes: []capture.Change{{Op: capture.Insert, Table: capture.Table{Schema: "public", Name: "odd"},
						Key: []string{"id"}, New: capture.Row{"id": int64(1), "v": tt.in}}}}
				line, err := enc.Append(nil, txn, 0)
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				var ev struct {
					After map[string]json.RawMessage `json:"after"`
					Data  struct {
						After map[string]json.RawMessage `json:"after"`
					} `json:"data"`
				}
				if err := json.Unmarshal(line, &ev); err != nil {
					t.Fatalf("%s is not JSON: %v", line, err)
				}
				after := ev.After
				if f == envelope.CloudEvents {
					after = ev.Data.After
				}
				if got := string(after["v"]); got != tt.want {
					t.Errorf("printed %s, want %s (the document form)", got, tt.want)
				}
				if doc := string(capture.AppendValue(nil, tt.in)); doc != tt.want {
					t.Errorf("documents hold %s, tail prints %s", doc, tt.want)
				}
			})
		}
	}
}

func TestTailRefusesUnknownFormat(t *testing.T) {
	root := newRootCommand()
	root.SetArgs([]string{"tail", "--format", "avro", "-c", "/nonexistent.yaml"})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), `--format: unknown event format "avro"; formats are projector, debezium, cloudevents`) {
		t.Errorf("error %v", err)
	}
}
