package transform

import (
	"testing"

	"github.com/projector-dev/projector/capture"
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
