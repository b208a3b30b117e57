package config

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"HOST": "db", "EMPTY": "", "DOLLAR": "$x"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${HOST}", want: "db"},
		{in: "postgres://${HOST}:5432/${HOST}", want: "postgres://db:5432/db"},
		{in: "${MISSING:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${HOST:-fallback}", want: "db"},
		{in: "${MISSING:-}", want: ""},
		{in: "${EMPTY}", want: ""},
		{in: "$${HOST}", want: "${HOST}"},
		{in: "a$$b", want: "a$b"},
		{in: "$$$${HOST}", want: "$${HOST}"},
		{in: "$$${HOST}", want: "$db"},
		{in: "pa$s", want: "pa$s"},
		{in: "trailing$", want: "trailing$"},
		{in: "${DOLLAR}", want: "$x"},
		{in: "${MISSING}", err: "environment variable MISSING is not set; export it, or give a default with ${MISSING:-value}"},
		{in: "x${HOST", err: `"${" is not closed; close it with "}", or write "$$" for a literal "$"`},
		{in: "${}", err: `"${}" is not a variable reference; write ${NAME} or ${NAME:-default}, or "$$" for a literal "$"`},
		{in: "${1X}", err: `"${1X}" is not a variable reference; write ${NAME} or ${NAME:-default}, or "$$" for a literal "$"`},
		{in: "${HOST-x}", err: `"${HOST-x}" is not a variable reference; write ${NAME} or ${NAME:-default}, or "$$" for a literal "$"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := expand(tt.in, lookup)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("expand(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${A}", "$${A}", "${A:-b}", "x$", "${", "$$$"} {
		f.Add(s)
	}
	lookup := func(k string) (string, bool) { return "<" + k + ">", k != "UNSET" }
	f.Fuzz(func(t *testing.T, s string) {
		got, err := expand(s, lookup)
		if !strings.Contains(s, "$") && (got != s || err != nil) {
			t.Fatalf("expand(%q) = %q, %v; text without $ must pass unchanged", s, got, err)
		}
	})
}
