package transform

import (
	"strconv"
	"testing"
)

// TestPositionForm: a position is written as the LSN's text form, '#' and
// the index, as states folded before were stored, and reads back.
func TestPositionForm(t *testing.T) {
	for _, p := range []position{
		{},
		{lsn: 0x16B374D848, index: 3},
		{lsn: 0xABCDEF0123456789, index: 999999},
		{lsn: 0xFFFFFFFFFFFFFFFF, index: 0},
		{lsn: 0x10, index: 12},
	} {
		want := p.lsn.String() + "#" + strconv.Itoa(p.index)
		if got := p.String(); got != want {
			t.Errorf("position %#x#%d is written %q, want %q", uint64(p.lsn), p.index, got, want)
		}
		back, err := parsePosition(want)
		if err != nil || back != p {
			t.Errorf("parsePosition(%q) = %v, %v; want %v", want, back, err, p)
		}
	}
	for _, bad := range []string{"", "0/16", "0/16#", "G/16#1", "0/16#x"} {
		if p, err := parsePosition(bad); err == nil {
			t.Errorf("parsePosition(%q) = %v, want an error", bad, p)
		}
	}
}
