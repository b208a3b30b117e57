package transform

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDocIDEncoding(t *testing.T) {
	long := strings.Repeat("x", 600)
	for _, tc := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"integer", []string{"42"}, "42"},
		{"text", []string{"alice"}, "alice"},
		{"text with a bar", []string{"a|b"}, "a|b"},
		{"empty text", []string{""}, `\e`},
		{"text that looks like the empty marker", []string{`\e`}, `\\e`},
		{"leading backslash", []string{`\x`}, `\\x`},
		{"inner backslash", []string{`a\b`}, `a\b`},
		{"composite", []string{"7", "x"}, "7|x"},
		{"composite with a bar in the first part", []string{"a|b", "c"}, `a\|b|c`},
		{"composite with a bar in the second part", []string{"a", "b|c"}, `a|b\|c`},
		{"composite with backslashes", []string{`a\`, `|b`}, `a\\|\|b`},
		{"composite of empty parts", []string{"", ""}, "|"},
		{"exactly the limit", []string{strings.Repeat("y", MaxIDBytes)}, strings.Repeat("y", MaxIDBytes)},
		{"over the limit", []string{long}, ""}, // hashed
		{"over the limit once escaped", []string{`\` + strings.Repeat("y", MaxIDBytes-1)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DocID(tc.parts)
			if tc.want == "" {
				if !IsHashedID(got) || len(got) != len(`\sha256:`)+64 {
					t.Fatalf("DocID(%d bytes) = %q, want a %s hash", len(tc.parts[0]), got, `\sha256:`)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("DocID(%q) = %q, want %q", tc.parts, got, tc.want)
			}
			back, err := ParseDocID(got, len(tc.parts))
			if err != nil || !slices.Equal(back, tc.parts) {
				t.Fatalf("ParseDocID(%q) = %q, %v; want %q", got, back, err, tc.parts)
			}
		})
	}
}

func TestDocIDHashIsStable(t *testing.T) {
	// Ids must not change between releases without DocIDScheme changing:
	// a changed id leaves the old document behind.
	long := strings.Repeat("é", 300) // 600 bytes, 300 characters
	const want = `\sha256:`
	a, b := DocID([]string{long}), DocID([]string{long})
	if a != b || !strings.HasPrefix(a, want) {
		t.Fatalf("DocID of a long key = %q then %q", a, b)
	}
	if short := strings.Repeat("é", 256); DocID([]string{short}) != short {
		t.Fatalf("a key of exactly %d bytes was changed", MaxIDBytes)
	}
	if DocID([]string{long, "1"}) == DocID([]string{long, "2"}) {
		t.Fatal("two long composite keys share an id")
	}
}

func TestParseDocIDRefuses(t *testing.T) {
	for _, tc := range []struct {
		id string
		n  int
	}{
		{"", 1},
		{`\x`, 1},
		{DocID([]string{strings.Repeat("z", 1000)}), 1},
		{"a|b", 3},
		{`a\`, 2},
		{`a\b|c`, 2},
	} {
		if parts, err := ParseDocID(tc.id, tc.n); err == nil {
			t.Errorf("ParseDocID(%q, %d) = %q, want an error", tc.id, tc.n, parts)
		}
	}
}

func TestKeyPartsAndStoredKeys(t *testing.T) {
	for _, tc := range []struct {
		row  map[string]any
		cols []string
		want string
	}{
		{map[string]any{"id": ""}, []string{"id"}, `\e`},
		{map[string]any{"a": "a|b", "b": "c"}, []string{"a", "b"}, `a\|b|c`},
		{map[string]any{"a": "a", "b": "b|c"}, []string{"a", "b"}, `a|b\|c`},
		{map[string]any{"id": int64(-12)}, []string{"id"}, "-12"},
		{map[string]any{"id": "x", "v": nil}, []string{"id"}, "x"}, // a NULL outside the key
	} {
		pk, err := encodeKey(tc.cols, tc.row)
		if err != nil {
			t.Fatalf("encodeKey(%v): %v", tc.row, err)
		}
		if got := docID(pk); got != tc.want {
			t.Errorf("docID(%s) = %q, want %q", pk, got, tc.want)
		}
	}
}

func TestWithKeyField(t *testing.T) {
	pk := `["` + strings.Repeat("k", 600) + `"]`
	id := docID(pk)
	for _, src := range []string{`{"a":1}`, `{}`} {
		got := withKeyField([]byte(src), id, pk)
		var doc map[string]any
		if err := json.Unmarshal(got, &doc); err != nil {
			t.Fatalf("withKeyField(%s) = %s: %v", src, got, err)
		}
		key, _ := doc[KeyField].([]any)
		if len(key) != 1 || key[0] != strings.Repeat("k", 600) {
			t.Fatalf("withKeyField(%s) keeps %v as the key", src, doc[KeyField])
		}
	}
	if got := withKeyField([]byte(`{"a":1}`), "7", "[7]"); string(got) != `{"a":1}` {
		t.Fatalf("a document with a plain id changed: %s", got)
	}
	if got := withKeyField(nil, id, pk); got != nil {
		t.Fatalf("a deletion got a body: %s", got)
	}
}

// FuzzDocID checks that ids are injective for keys of the same number of
// columns, never empty, never over the engine's limit, and read back.
func FuzzDocID(f *testing.F) {
	f.Add("a|b", "c", "a", "b|c")
	f.Add("", "", `\`, "")
	f.Add(`\e`, "x", "", "x")
	f.Add(strings.Repeat("é", 300), "1", strings.Repeat("é", 300), "2")
	f.Fuzz(func(t *testing.T, a1, a2, b1, b2 string) {
		for _, keys := range [][2][]string{
			{{a1}, {b1}},
			{{a1, a2}, {b1, b2}},
			{{a1, a2, a1}, {b1, b2, b1}},
		} {
			a, b := keys[0], keys[1]
			ida, idb := DocID(a), DocID(b)
			for _, id := range []string{ida, idb} {
				if id == "" || len(id) > MaxIDBytes {
					t.Fatalf("id %q has %d bytes", id, len(id))
				}
			}
			if slices.Equal(a, b) != (ida == idb) {
				t.Fatalf("DocID(%q) = %q and DocID(%q) = %q", a, ida, b, idb)
			}
			if IsHashedID(ida) {
				continue
			}
			back, err := ParseDocID(ida, len(a))
			if err != nil || !slices.Equal(back, a) {
				t.Fatalf("ParseDocID(%q) = %q, %v; want %q", ida, back, err, a)
			}
			if valid := !slices.ContainsFunc(a, func(p string) bool { return !utf8.ValidString(p) }); valid && !utf8.ValidString(ida) {
				t.Fatalf("DocID(%q) = %q is not UTF-8", a, ida)
			}
		}
	})
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "status", "a b", `say "hi"`, `back\slash`, "tab\t", "<&>", "café", "\x7f"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("appendString(%q) = %s, reads back as %q (%v)", s, got, back, err)
		}
	}
}

func TestDocID(t *testing.T) {
	for pk, want := range map[string]string{
		`[123]`:                  "123",
		`[-5]`:                   "-5",
		`[0]`:                    "0",
		`[1.5]`:                  "1.5",
		`["a|b"]`:                "a|b",
		`[7,"x"]`:                "7|x",
		`["x",7]`:                "x|7",
		`[01]`:                   "[01]", // not JSON: the key as stored
		`[-0]`:                   "-0",
		`[-]`:                    "[-]",
		`[1e3]`:                  "1e3",
		`[true]`:                 "true",
		`[12345678901234567890]`: "12345678901234567890",
	} {
		if got := docID(pk); got != want {
			t.Errorf("docID(%s) = %q, want %q", pk, got, want)
		}
	}
}

// FuzzDocIDOfKey: docID names a stored key as DocID names the parts
// KeyParts reads from it, whatever shortcut it takes.
func FuzzDocIDOfKey(f *testing.F) {
	for _, v := range []string{"[1]", `["a"]`, `[""]`, `["a\"b"]`, `["\\a"]`, `["a|b"]`, "[\"\xff\"]", "[\"a\x01\"]", `["a","b"]`, `["é"]`, `[" "]`} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, pk string) {
		parts, err := KeyParts([]byte(pk))
		if err != nil {
			parts = []string{pk}
		}
		if got, want := docID(pk), DocID(parts); got != want {
			t.Fatalf("docID(%q) = %q, DocID(KeyParts) = %q", pk, got, want)
		}
	})
}
