package fold

import (
	"math"
	"math/big"
	"testing"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// TestAppendValue: AppendValue writes what capture.AppendValue writes of
// Value's conversion, says numeric for a numeric, and fails where Value
// fails.
func TestAppendValue(t *testing.T) {
	shape := NewShape(config.EventStream{Fields: map[string]string{
		"n": "bigint", "i": "integer", "total": "numeric", "name": "text", "f": "double precision", "ok": "boolean",
	}})
	tests := []struct {
		field string
		v     any
	}{
		{"n", 7}, {"n", -1 << 40}, {"n", 2.0}, {"n", 2.5}, {"n", "12"}, {"n", "x"}, {"n", nil},
		{"i", 3}, {"i", true},
		{"total", 0}, {"total", 25}, {"total", -3}, {"total", 2.5}, {"total", 1e21}, {"total", 1e-7},
		{"total", math.Inf(1)}, {"total", math.NaN()}, {"total", "1.50"}, {"total", "abc"}, {"total", new(big.Int).Lsh(big.NewInt(1), 70)},
		{"name", "PENDING"}, {"name", `a"<b>\`}, {"name", "é\n"}, {"name", 3}, {"name", []any{1}},
		{"f", 1}, {"f", 1.5},
		{"ok", true}, {"ok", 1},
		{"undeclared", map[string]any{"a": 1}}, {"undeclared", 5},
	}
	for _, tt := range tests {
		got, numeric, err := shape.AppendValue([]byte("x"), tt.field, tt.v)
		cv, wantErr := shape.Value(tt.field, tt.v)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("AppendValue(%s, %v) error %v; Value's %v", tt.field, tt.v, err, wantErr)
			continue
		}
		if err != nil {
			continue
		}
		want := string(capture.AppendValue([]byte("x"), cv))
		_, wantNumeric := cv.(capture.Numeric)
		if string(got) != want || numeric != wantNumeric {
			t.Errorf("AppendValue(%s, %v) = %s, %v; want %s, %v", tt.field, tt.v, got, numeric, want, wantNumeric)
		}
	}
}
