package transform

import (
	"strings"
	"testing"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

func TestEntityKeyIsEncodeKeyOfTheKeyRow(t *testing.T) {
	for _, key := range []any{"order-1", "", `a"b`, `back\slash`, "tab\there", "<&>", "ünïcode", int64(42)} {
		want, err := encodeKey([]string{config.EntityKey}, capture.Row{config.EntityKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if got := entityKey(key); got != want {
			t.Errorf("entityKey(%#v) = %s, want %s", key, got, want)
		}
	}
}

// The document id of a key of one string is read without JSON decoding
// when the key holds the string as it is; it must be the id the decoding
// gives.
func TestDocIDOfAStringKeyIsTheDecodedID(t *testing.T) {
	for _, key := range []capture.Row{
		{"k": "order-1"}, {"k": ""}, {"k": `a"b`}, {"k": `\leading`}, {"k": "tab\there"}, {"k": "<&>"},
		{"k": "ünïcode ✓"}, {"k": "line\u2028sep"}, {"k": strings.Repeat("x", MaxIDBytes)}, {"k": strings.Repeat("x", MaxIDBytes+1)},
		{"k": int64(7)}, {"k": "a", "l": "b"},
	} {
		cols := []string{"k"}
		if len(key) == 2 {
			cols = []string{"k", "l"}
		}
		pk, err := encodeKey(cols, key)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := KeyParts([]byte(pk))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := docID(pk), DocID(parts); got != want {
			t.Errorf("docID(%s) = %q, want %q", pk, got, want)
		}
	}
	for _, pk := range []string{`["a","b"]`, `["a\"b"]`, `["\\x"]`, `[""]`, `[1]`, `"x"`, `["x"`, "[\"\xff\"]"} {
		if s, ok := singleString(pk); ok {
			t.Errorf("singleString(%s) = %q, want no fast path", pk, s)
		}
	}
}
