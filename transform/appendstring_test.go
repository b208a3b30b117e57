package transform

import (
	"testing"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/state"
)

// TestAppendStringMatchesCapture checks that the field names and keys
// written without escaping come out as capture renders every string.
func TestAppendStringMatchesCapture(t *testing.T) {
	for _, s := range []string{"", "status", "total_cents", "a b", `quo"te`, `back\slash`, "tab\t", "<html>", "a&b",
		"é", "日本", "\x7f", "\u2028", "bad\xffutf8", "line\nbreak"} {
		want := string(capture.AppendValue(nil, s))
		if got := string(appendString([]byte("x"), s)); got != "x"+want {
			t.Errorf("appendString(%q) = %s, want %s", s, got[1:], want)
		}
	}
}

// TestNewRowHoldsAnyNumberOfColumns checks the rows project makes in one
// allocation take every column, past their room too.
func TestNewRowHoldsAnyNumberOfColumns(t *testing.T) {
	for _, n := range []int{0, 1, 4, 5, 8, 9, 20} {
		r := newRow(n)
		for i := range n + 2 {
			r.Cols = append(r.Cols, stateColumn(i))
		}
		for i := range n + 2 {
			if r.Cols[i] != stateColumn(i) {
				t.Fatalf("newRow(%d): column %d is %v", n, i, r.Cols[i])
			}
		}
	}
}

func stateColumn(i int) state.Column {
	return state.Column{Name: string(rune('a' + i)), Value: string(rune('0' + i%10)), Numeric: i%2 == 0}
}
