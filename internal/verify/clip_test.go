package verify

import (
	"strings"
	"testing"
)

func TestClipPair(t *testing.T) {
	long := strings.Repeat("a", 5000)
	tests := []struct {
		name, want, got       string
		wantOut, gotOut       string
		wantLonger, gotLonger bool
	}{
		{name: "short values unchanged", want: `"x"`, got: `"y"`, wantOut: `"x"`, gotOut: `"y"`},
		{name: "long values around the first difference",
			want: `"` + long + `b` + long + `"`, got: `"` + long + `c` + long + `"`,
			wantOut: `…` + strings.Repeat("a", 40) + `b` + strings.Repeat("a", 39) + `… (10003 bytes, first difference at byte 5001)`,
			gotOut:  `…` + strings.Repeat("a", 40) + `c` + strings.Repeat("a", 39) + `… (10003 bytes, first difference at byte 5001)`},
		{name: "one side absent", want: `"` + long + `"`, got: `<absent>`,
			wantOut: `"` + strings.Repeat("a", 39) + `… (5002 bytes, first difference at byte 0)`, gotOut: `<absent>`},
		{name: "multi-byte characters are not cut", want: `"` + strings.Repeat("é", 300) + `"`, got: `"x"`,
			wantOut: `"` + strings.Repeat("é", 20) + `… (602 bytes, first difference at byte 1)`, gotOut: `"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, g := clipPair(tt.want, tt.got)
			if w != tt.wantOut || g != tt.gotOut {
				t.Errorf("clipPair = %q, %q\nwant      %q, %q", w, g, tt.wantOut, tt.gotOut)
			}
		})
	}
}
