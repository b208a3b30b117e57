package transform

import (
	"strconv"
	"testing"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/fold"
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

// TestEntityKey: an entity's key is encoded as encodeKey encodes the row
// Shape.Row makes of its aggregate id.
func TestEntityKey(t *testing.T) {
	for _, typ := range []string{"", "text", "bigint", "uuid"} {
		stream := config.EventStream{}
		if typ != "" {
			stream.Fields = map[string]string{config.EntityKey: typ}
		}
		shape := fold.NewShape(stream)
		for _, id := range []string{"7", "0", "-12", "a\"b", "00000000-0000-0000-0000-000000000001"} {
			row, rowErr := shape.Row(id, nil)
			key, keyErr := shape.Key(id)
			if (rowErr == nil) != (keyErr == nil) {
				t.Errorf("%s %q: Row gives %v, Key %v", typ, id, rowErr, keyErr)
				continue
			}
			if rowErr != nil {
				continue
			}
			want, err := encodeKey([]string{config.EntityKey}, row)
			got, err2 := entityKey(key)
			if got != want || (err == nil) != (err2 == nil) {
				t.Errorf("%s %q: entityKey = %q, %v; encodeKey of the row = %q, %v", typ, id, got, err2, want, err)
			}
		}
	}
}
