package pgoutput

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// A streamed transaction arrives in segments, interleaved with other
// transactions, and is delivered whole at its commit without what its
// aborted subtransaction did.
func TestDecodeStreamedTransaction(t *testing.T) {
	const top, sub1, sub2 = 900, 901, 902
	d := newDecoder(nil)
	out := feed(t, d,
		streamStartMsg(top, true),
		originMsg(0x10, "upstream"),
		dishesRelation(top),
		insertMsg(top, dishesOID, txt("1"), txt("pho"), nullCell()),
		insertMsg(sub1, dishesOID, txt("2"), txt("laksa"), nullCell()),
		logicalMsg(sub1, true, 0x20, "audit", []byte("sub1")),
		streamStopMsg(),
		// Another transaction commits between two segments. The relation was
		// described inside the stream only, so the server describes it again.
		beginMsg(0x30, commitTime, 800),
		dishesRelation(0),
		insertMsg(0, dishesOID, txt("10"), txt("ramen"), nullCell()),
		commitMsg(0x30, 0x38, commitTime),
		streamStartMsg(top, false),
		insertMsg(sub2, dishesOID, txt("3"), txt("curry"), nullCell()),
		logicalMsg(top, true, 0x40, "audit", []byte("top")),
		streamStopMsg(),
		streamAbortMsg(top, sub1),
		streamCommitMsg(top, 0x50, 0x58, commitTime),
	)
	if len(out) != 2 || out[0].XID != 800 || out[1].XID != top {
		t.Fatalf("got %s", dump(out))
	}
	key := []string{"id"}
	mustEqual(t, out[1], &Transaction{
		XID: top, CommitLSN: 0x50, EndLSN: 0x58, CommitTime: commitTime, Origin: "upstream",
		Changes: []Change{
			{Op: Insert, Table: dishes, Key: key, New: Row{"id": int64(1), "name": "pho", "price": nil}},
			{Op: Insert, Table: dishes, Key: key, New: Row{"id": int64(3), "name": "curry", "price": nil}},
		},
		Messages: []Message{{Prefix: "audit", Content: []byte("top"), Transactional: true, LSN: 0x40}},
	})
}

func TestDecodeStreamAbort(t *testing.T) {
	d := newDecoder(nil)
	out := feed(t, d,
		dishesRelation(0),
		streamStartMsg(910, true),
		insertMsg(910, dishesOID, txt("1"), txt("pho"), nullCell()),
		streamStopMsg(),
		streamStartMsg(911, true),
		insertMsg(911, dishesOID, txt("2"), txt("laksa"), nullCell()),
		streamStopMsg(),
		streamAbortMsg(910, 910),
		// An abort of a transaction never streamed is nothing to drop.
		streamAbortMsg(999, 999),
		streamCommitMsg(911, 0x50, 0x58, commitTime),
	)
	if len(out) != 1 || out[0].XID != 911 || len(out[0].Changes) != 1 || out[0].Changes[0].New["id"] != int64(2) {
		t.Fatalf("got %s", dump(out))
	}
	if len(d.streams) != 0 {
		t.Fatalf("streams left in progress: %v", d.streams)
	}
}

// A streamed transaction that commits without any change delivered to us
// still moves the position forward.
func TestDecodeEmptyStreamCommit(t *testing.T) {
	out := feed(t, newDecoder(nil), streamCommitMsg(920, 0x60, 0x68, commitTime))
	mustEqual(t, out, []*Transaction{{XID: 920, CommitLSN: 0x60, EndLSN: 0x68, CommitTime: commitTime}})
}

// A Relation message inside a streamed transaction may describe a schema
// change of that transaction: other transactions keep the old schema until
// it commits, and an abort forgets it.
func TestDecodeStreamedRelationScope(t *testing.T) {
	const oid = 16410
	narrow := relationMsg(0, oid, "public", "menu", col{"id", pgtype.Int4OID, true})
	wide := func(xid uint32) []byte {
		return relationMsg(xid, oid, "public", "menu", col{"id", pgtype.Int4OID, true}, col{"spicy", pgtype.BoolOID, false})
	}
	t.Run("commit", func(t *testing.T) {
		d := newDecoder(nil)
		out := feed(t, d,
			narrow,
			streamStartMsg(930, true), wide(930), insertMsg(930, oid, txt("1"), txt("t")), streamStopMsg(),
			beginMsg(0x10, commitTime, 931), insertMsg(0, oid, txt("2")), commitMsg(0x10, 0x18, commitTime),
			streamCommitMsg(930, 0x20, 0x28, commitTime),
			beginMsg(0x30, commitTime, 932), insertMsg(0, oid, txt("3"), txt("f")), commitMsg(0x30, 0x38, commitTime),
		)
		rows := []Row{out[0].Changes[0].New, out[1].Changes[0].New, out[2].Changes[0].New}
		mustEqual(t, rows, []Row{{"id": int64(2)}, {"id": int64(1), "spicy": true}, {"id": int64(3), "spicy": false}})
	})
	t.Run("abort", func(t *testing.T) {
		d := newDecoder(nil)
		out := feed(t, d,
			narrow,
			streamStartMsg(940, true), wide(940), insertMsg(940, oid, txt("1"), txt("t")), streamStopMsg(),
			streamAbortMsg(940, 940),
			beginMsg(0x10, commitTime, 941), insertMsg(0, oid, txt("2")), commitMsg(0x10, 0x18, commitTime),
		)
		mustEqual(t, out[0].Changes[0].New, Row{"id": int64(2)})
	})
}

// Under protocol 4 with streaming 'parallel' (PostgreSQL 16+) a Stream
// Abort carries the abort's LSN and time after the two transaction ids.
// It must read as the same abort, byte for byte, and a message cut inside
// the new fields is malformed, not a shorter abort.
func TestDecodeStreamAbortV4(t *testing.T) {
	at := time.Date(2026, 12, 6, 15, 4, 5, 678901000, time.UTC)
	msg := streamAbortV4Msg(930, 931, 0x1_0000_00a8, at)
	want := []byte{'A',
		0, 0, 0x03, 0xa2, // xid 930
		0, 0, 0x03, 0xa3, // subxid 931
		0, 0, 0, 0x01, 0, 0, 0, 0xa8, // abort LSN 1/A8
	}
	micros := at.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Microseconds()
	want = binary.BigEndian.AppendUint64(want, uint64(micros))
	if !bytes.Equal(msg, want) {
		t.Fatalf("test message is % x, want % x", msg, want)
	}
	r := &reader{b: msg[1:]}
	if got := r.streamAbort(true); !r.ok() || got != (streamAbortMessage{Xid: 930, SubXid: 931, AbortLSN: 0x1_0000_00a8, AbortTime: at}) {
		t.Fatalf("parsed %+v, %v", got, r.err)
	}
	r = &reader{b: streamAbortMsg(930, 930)[1:]}
	if got := r.streamAbort(false); !r.ok() || got != (streamAbortMessage{Xid: 930, SubXid: 930}) {
		t.Fatalf("parsed protocol 2 abort as %+v, %v", got, r.err)
	}

	v4 := Protocol{Version: 4, Streaming: true, Parallel: true, Messages: true}
	d := NewDecoder[Numeric](v4, nil)
	out := feed(t, d,
		dishesRelation(0),
		streamStartMsg(930, true),
		insertMsg(930, dishesOID, txt("1"), txt("pho"), nullCell()),
		insertMsg(931, dishesOID, txt("2"), txt("laksa"), nullCell()),
		streamStopMsg(),
		streamAbortV4Msg(930, 931, 0x90, at),
		streamCommitMsg(930, 0xa0, 0xa8, commitTime),
		streamStartMsg(932, true),
		insertMsg(932, dishesOID, txt("3"), txt("curry"), nullCell()),
		streamStopMsg(),
		streamAbortV4Msg(932, 932, 0xb0, at),
	)
	if len(out) != 1 || out[0].XID != 930 || len(out[0].Changes) != 1 || out[0].Changes[0].New["id"] != int64(1) {
		t.Fatalf("got %s", dump(out))
	}
	if len(d.streams) != 0 {
		t.Fatalf("streams left in progress: %v", d.streams)
	}

	for n := range len(msg) {
		_, err := NewDecoder[Numeric](v4, nil).Decode(context.Background(), 0x10, msg[:n])
		if n > 9 && (err == nil || !strings.Contains(err.Error(), "stream abort LSN and time")) {
			t.Errorf("abort cut to %d bytes: got %v, want an error naming the missing fields", n, err)
		}
		if err == nil {
			t.Errorf("abort cut to %d bytes: no error", n)
		}
	}
}
