package pgoutput

import (
	"context"
	"strings"
	"testing"
)

// everyMessage is a valid conversation using every message type, the
// stream ones included.
func everyMessage() [][]byte {
	const xid = 600
	return [][]byte{
		typeMsg(0, 16500, "public", "mood"),
		beginMsg(0x10, commitTime, 500),
		originMsg(0x8, "upstream"),
		dishesRelation(0),
		insertMsg(0, dishesOID, txt("1"), txt("pho"), txt("9.5")),
		updateMsg(0, dishesOID, 'K', []cell{txt("1"), nullCell(), nullCell()}, []cell{txt("2"), unchangedToast(), nullCell()}),
		updateMsg(0, dishesOID, 'O', []cell{txt("2"), txt("pho"), nullCell()}, []cell{txt("2"), txt("bo"), nullCell()}),
		updateMsg(0, dishesOID, 0, nil, []cell{txt("2"), txt("ga"), nullCell()}),
		deleteMsg(0, dishesOID, 'K', txt("2"), nullCell(), nullCell()),
		truncateMsg(0, 1, dishesOID),
		logicalMsg(0, true, 0x9, "p", []byte("in")),
		commitMsg(0x10, 0x18, commitTime),
		logicalMsg(0, false, 0x20, "p", []byte("out")),
		streamStartMsg(xid, true),
		dishesRelation(xid),
		typeMsg(xid, 16500, "public", "mood"),
		insertMsg(xid+1, dishesOID, txt("3"), txt("laksa"), nullCell()),
		deleteMsg(xid, dishesOID, 'O', txt("3"), txt("laksa"), nullCell()),
		truncateMsg(xid, 0, dishesOID),
		logicalMsg(xid, true, 0x30, "p", []byte("stream")),
		streamStopMsg(),
		streamAbortMsg(xid, xid+1),
		streamCommitMsg(xid, 0x40, 0x48, commitTime),
	}
}

func TestDecodeEveryMessage(t *testing.T) {
	out := feed(t, newDecoder(nil), everyMessage()...)
	if len(out) != 3 || len(out[0].Changes) != 6 || len(out[1].Messages) != 1 || len(out[2].Changes) != 2 {
		t.Fatalf("got %s", dump(out))
	}
}

// Every message cut short anywhere is an error, never a panic, whatever
// state the decoder is in.
func TestDecodeTruncatedMessages(t *testing.T) {
	msgs := everyMessage()
	for i, m := range msgs {
		for n := range len(m) {
			d := newDecoder(nil)
			feed(t, d, msgs[:i]...)
			if _, err := d.Decode(context.Background(), 0x100, m[:n]); err == nil {
				t.Errorf("message %d (%q) cut to %d of %d bytes: no error", i, m[0], n, len(m))
			}
		}
	}
}

func TestDecodeGarbledMessages(t *testing.T) {
	begin := beginMsg(0x10, commitTime, 1)
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"huge column length", wireMsg('I').u32(dishesOID).u8('N').u16(1).u8('t').u32(0xFFFFFFFF).rawJSON([]byte("x")).b, "column value needs 4294967295 bytes"},
		{"huge truncate count", wireMsg('T').u32(0xFFFFFFFF).u8(0).u32(dishesOID).b, "truncated relation OIDs"},
		{"huge message length", wireMsg('M').u8(1).u64(1).str("p").u32(0xFFFFFFF0).b, "message content"},
		{"more columns than bytes", wireMsg('R').u32(1).str("s").str("t").u8('d').u16(65535).b, "column flags"},
		{"unknown column kind", wireMsg('I').u32(dishesOID).u8('N').u16(1).u8('x').b, "unknown column kind"},
		{"insert without new tuple", wireMsg('I').u32(dishesOID).u8('K').tuple(txt("1")).b, "unexpected tuple kind"},
		{"update with two old tuples", wireMsg('U').u32(dishesOID).u8('K').tuple(txt("1")).u8('O').tuple(txt("1")).b, "unexpected tuple kind"},
		{"delete without old tuple", wireMsg('D').u32(dishesOID).u8('N').tuple(txt("1")).b, "unexpected old tuple kind"},
		{"unterminated relation name", wireMsg('R').u32(1).str("s").rawJSON([]byte("table")).b, "relation name is not terminated"},
		{"unterminated origin", wireMsg('O').u64(1).rawJSON([]byte("up")).b, "origin name is not terminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeErr(t, newDecoder(nil), begin, dishesRelation(0), tc.msg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
