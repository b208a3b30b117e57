package transform

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
)

// TestAppendJSON checks the document form of values the engine would
// refuse or lose if written naively: non-finite floats, years beyond 9999
// and before 1 AD.
func TestAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nan", math.NaN(), `"NaN"`},
		{"infinity", math.Inf(1), `"Infinity"`},
		{"minus infinity", math.Inf(-1), `"-Infinity"`},
		{"minus zero", math.Copysign(0, -1), `-0`},
		{"float", 1.5, `1.5`},
		{"date", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), `"2024-02-29T00:00:00Z"`},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), `"+10000-01-01T00:00:00Z"`},
		{"year 294276", time.Date(294276, 12, 31, 23, 59, 59, 999999000, time.UTC), `"+294276-12-31T23:59:59.999999Z"`},
		{"1 BC", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), `"0000-01-01T00:00:00Z"`},
		{"4714 BC", time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC), `"-4713-11-24T00:00:00Z"`},
		{"infinite date", "infinity", `"infinity"`},
		{"numeric nan", capture.Numeric("NaN"), `"NaN"`},
		{"array", []any{math.Inf(1), nil, int64(2)}, `["Infinity",null,2]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendJSON(nil, tt.v))
			if got != tt.want {
				t.Errorf("appendJSON(%v) = %s, want %s", tt.v, got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("appendJSON(%v) = %s, which is not JSON", tt.v, got)
			}
		})
	}
}
