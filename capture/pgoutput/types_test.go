package pgoutput

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// The resolver is asked only about types pgx does not know, once each.
func TestDecoderAsksResolverOnce(t *testing.T) {
	types := newFakeTypes()
	d := newDecoder(types)
	rel := relationMsg(0, 1, "public", "t",
		col{"id", pgtype.Int4OID, true}, col{"mood", moodOID, false},
		col{"moods", moodArrayOID, false}, col{"portion", intDomainOID, false})
	out := feed(t, d,
		beginMsg(0x10, commitTime, 1), rel, rel,
		insertMsg(0, 1, txt("1"), txt("sad"), txt("{happy}"), txt("3")),
		commitMsg(0x10, 0x18, commitTime))
	mustEqual(t, out[0].Changes[0].New, Row{"id": int64(1), "mood": "sad", "moods": []any{"happy"}, "portion": int64(3)})
	slices.Sort(types.asked)
	mustEqual(t, types.asked, []uint32{intDomainOID, moodOID, moodArrayOID})
}

func TestDecoderResolverError(t *testing.T) {
	types := newFakeTypes()
	types.err = errors.New("connection reset")
	err := decodeErr(t, newDecoder(types), relationMsg(0, 1, "public", "t", col{"mood", moodOID, false}))
	if err == nil || !strings.Contains(err.Error(), "connection reset") || !strings.Contains(err.Error(), `column "mood"`) {
		t.Fatalf("got %v, want the resolver's error for column mood", err)
	}
	// The failure is not remembered: the type is asked about again.
	types.err = nil
	feed(t, newDecoder(types), relationMsg(0, 1, "public", "t", col{"mood", moodOID, false}))
}

// A catalog that answers in circles is an error, not endless recursion.
func TestDecoderDomainCycle(t *testing.T) {
	types := &fakeTypes{types: map[uint32]TypeInfo{
		71001: {OID: 71001, Kind: DomainType, BaseOID: 71002},
		71002: {OID: 71002, Kind: DomainType, BaseOID: 71001},
	}}
	err := decodeErr(t, newDecoder(types), relationMsg(0, 1, "public", "t", col{"v", 71001, false}))
	if err == nil || !strings.Contains(err.Error(), "nest more than") {
		t.Fatalf("got %v", err)
	}
}

func TestKindFromCatalog(t *testing.T) {
	for _, tc := range []struct {
		typtype string
		array   bool
		want    TypeKind
	}{
		{"b", false, BaseType}, {"b", true, ArrayType}, {"e", false, EnumType}, {"d", false, DomainType},
		{"c", false, CompositeType}, {"r", false, RangeType}, {"m", false, OtherType}, {"p", false, OtherType},
	} {
		if got := KindFromCatalog(tc.typtype, tc.array); got != tc.want {
			t.Errorf("KindFromCatalog(%q, %v) = %s, want %s", tc.typtype, tc.array, got, tc.want)
		}
	}
}
