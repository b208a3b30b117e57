package main

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
)

func TestPrintableRow(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string // the value as JSON
	}{
		{"finite float", 1.5, `1.5`},
		{"NaN", math.NaN(), `"NaN"`},
		{"infinity", math.Inf(1), `"Infinity"`},
		{"minus infinity", math.Inf(-1), `"-Infinity"`},
		{"float4 NaN", float32(math.NaN()), `"NaN"`},
		{"time in range", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), `"2026-01-02T03:04:05Z"`},
		{"year 10000", time.Date(10000, 1, 2, 3, 4, 5, 6000, time.UTC), `"10000-01-02T03:04:05.000006Z"`},
		{"year 2 BC", time.Date(-1, 1, 2, 0, 0, 0, 0, time.UTC), `"-0001-01-02T00:00:00Z"`},
		{"year 1 BC", time.Date(0, 1, 2, 0, 0, 0, 0, time.UTC), `"0000-01-02T00:00:00Z"`},
		{"array", []any{1.0, math.Inf(-1), []any{math.NaN()}}, `[1,"-Infinity",["NaN"]]`},
		{"text", "infinity", `"infinity"`},
		{"null", nil, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(printableRow(capture.Row{"v": tt.in}))
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if want := `{"v":` + tt.want + `}`; string(got) != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
	if printableRow(nil) != nil {
		t.Error("a missing row became a present one")
	}
}
