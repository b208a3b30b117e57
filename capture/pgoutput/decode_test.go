package pgoutput

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

var commitTime = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

// dishes is the relation most tests use: id (key), name, price.
const dishesOID = 16400

func dishesRelation(xid uint32) []byte {
	return relationMsg(xid, dishesOID, "public", "dishes",
		col{"id", pgtype.Int4OID, true}, col{"name", pgtype.TextOID, false}, col{"price", pgtype.NumericOID, false})
}

var dishes = Table{Schema: "public", Name: "dishes"}

// feed decodes msgs in order and returns every transaction they complete.
func feed(t *testing.T, d *Decoder[Numeric], msgs ...[]byte) []*Transaction {
	t.Helper()
	var out []*Transaction
	for i, m := range msgs {
		txn, err := d.Decode(context.Background(), LSN(0x1000+i), m)
		if err != nil {
			t.Fatalf("message %d (%q): %v", i, m[0], err)
		}
		if txn != nil {
			out = append(out, txn)
		}
	}
	return out
}

// decodeErr feeds msgs and returns the error of the last one; the ones
// before it must decode.
func decodeErr(t *testing.T, d *Decoder[Numeric], msgs ...[]byte) error {
	t.Helper()
	feed(t, d, msgs[:len(msgs)-1]...)
	_, err := d.Decode(context.Background(), 0x2000, msgs[len(msgs)-1])
	return err
}

func mustEqual(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func dump(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%#v", v) // NaN and infinities have no JSON
	}
	return string(b)
}

func TestDecodeTransaction(t *testing.T) {
	d := newDecoder(nil)
	out := feed(t, d,
		beginMsg(0x5000, commitTime, 731),
		originMsg(0x4FF0, "upstream"),
		typeMsg(0, 16500, "public", "mood"),
		dishesRelation(0),
		insertMsg(0, dishesOID, txt("1"), txt("pho"), txt("9.50")),
		updateMsg(0, dishesOID, 0, nil, []cell{txt("1"), txt("pho bo"), nullCell()}),
		updateMsg(0, dishesOID, 'K', []cell{txt("1"), nullCell(), nullCell()}, []cell{txt("2"), txt("pho bo"), txt("10")}),
		updateMsg(0, dishesOID, 'O', []cell{txt("2"), txt("pho bo"), txt("10")}, []cell{txt("2"), txt("pho ga"), txt("10")}),
		deleteMsg(0, dishesOID, 'K', txt("2"), nullCell(), nullCell()),
		deleteMsg(0, dishesOID, 'O', txt("3"), txt("laksa"), txt("12.00")),
		logicalMsg(0, true, 0x4F00, "audit", []byte("by chef")),
		truncateMsg(0, 0, dishesOID),
		commitMsg(0x5000, 0x5028, commitTime),
	)
	key := []string{"id"}
	want := []*Transaction{{
		XID: 731, CommitLSN: 0x5000, EndLSN: 0x5028, CommitTime: commitTime, Origin: "upstream",
		Changes: []Change{
			{Op: Insert, Table: dishes, Key: key, New: Row{"id": int64(1), "name": "pho", "price": Numeric("9.50")}},
			{Op: Update, Table: dishes, Key: key, New: Row{"id": int64(1), "name": "pho bo", "price": nil}},
			{Op: Update, Table: dishes, Key: key, Old: Row{"id": int64(1)}, New: Row{"id": int64(2), "name": "pho bo", "price": Numeric("10")}},
			{Op: Update, Table: dishes, Key: key, Old: Row{"id": int64(2), "name": "pho bo", "price": Numeric("10")},
				New: Row{"id": int64(2), "name": "pho ga", "price": Numeric("10")}},
			{Op: Delete, Table: dishes, Key: key, Old: Row{"id": int64(2)}},
			{Op: Delete, Table: dishes, Key: key, Old: Row{"id": int64(3), "name": "laksa", "price": Numeric("12.00")}},
			{Op: Truncate, Table: dishes, Key: key},
		},
		Messages: []Message{{Prefix: "audit", Content: []byte("by chef"), Transactional: true, LSN: 0x4F00}},
	}}
	mustEqual(t, out, want)
}

func TestDecodeReturnsNothingBeforeCommit(t *testing.T) {
	d := newDecoder(nil)
	for i, m := range [][]byte{beginMsg(0x10, commitTime, 1), dishesRelation(0), insertMsg(0, dishesOID, txt("1"), txt("a"), nullCell())} {
		txn, err := d.Decode(context.Background(), LSN(i), m)
		if err != nil || txn != nil {
			t.Fatalf("message %d: got %v, %v; want nil, nil", i, txn, err)
		}
	}
}

func TestDecodeToastAndNull(t *testing.T) {
	d := newDecoder(nil)
	out := feed(t, d,
		beginMsg(0x10, commitTime, 2),
		relationMsg(0, 16401, "public", "recipes",
			col{"id", pgtype.Int8OID, true}, col{"body", pgtype.TextOID, false},
			col{"meta", pgtype.JSONBOID, false}, col{"note", pgtype.TextOID, false}),
		updateMsg(0, 16401, 0, nil, []cell{txt("7"), unchangedToast(), unchangedToast(), nullCell()}),
		commitMsg(0x10, 0x18, commitTime),
	)
	c := out[0].Changes[0]
	mustEqual(t, c.New, Row{"id": int64(7), "note": nil})
	mustEqual(t, c.Unchanged, []string{"body", "meta"})
	if _, ok := c.New["body"]; ok {
		t.Fatal("an unchanged TOASTed column must be absent from New, not null")
	}
}

func TestDecodeRelationChangesMidStream(t *testing.T) {
	d := newDecoder(nil)
	out := feed(t, d,
		beginMsg(0x10, commitTime, 3),
		relationMsg(0, 16402, "public", "menu", col{"id", pgtype.Int4OID, true}, col{"name", pgtype.TextOID, false}),
		insertMsg(0, 16402, txt("1"), txt("soup")),
		commitMsg(0x10, 0x18, commitTime),
		beginMsg(0x20, commitTime, 4),
		relationMsg(0, 16402, "public", "menu",
			col{"id", pgtype.Int4OID, true}, col{"name", pgtype.TextOID, false}, col{"spicy", pgtype.BoolOID, false}),
		insertMsg(0, 16402, txt("2"), txt("curry"), txt("t")),
		relationMsg(0, 16402, "public", "menu", col{"id", pgtype.Int4OID, true}, col{"spicy", pgtype.BoolOID, false}),
		insertMsg(0, 16402, txt("3"), txt("f")),
		commitMsg(0x20, 0x28, commitTime),
	)
	rows := []Row{out[0].Changes[0].New, out[1].Changes[0].New, out[1].Changes[1].New}
	mustEqual(t, rows, []Row{
		{"id": int64(1), "name": "soup"},
		{"id": int64(2), "name": "curry", "spicy": true},
		{"id": int64(3), "spicy": false},
	})
	// A row shaped by the old schema no longer fits.
	err := decodeErr(t, d, beginMsg(0x30, commitTime, 5), insertMsg(0, 16402, txt("4"), txt("x"), txt("t")))
	if err == nil || !strings.Contains(err.Error(), "3 columns where the relation has 2") {
		t.Fatalf("row with a dropped column: got %v", err)
	}
}

func TestDecodeBinaryTupleData(t *testing.T) {
	d := newDecoder(nil)
	out := feed(t, d,
		beginMsg(0x10, commitTime, 6),
		relationMsg(0, 16403, "public", "bin", col{"id", pgtype.Int4OID, true}, col{"name", pgtype.TextOID, false}, col{"ok", pgtype.BoolOID, false}),
		insertMsg(0, 16403, binCell([]byte{0, 0, 1, 0}), binCell([]byte("raw")), binCell([]byte{1})),
		commitMsg(0x10, 0x18, commitTime),
	)
	mustEqual(t, out[0].Changes[0].New, Row{"id": int64(256), "name": "raw", "ok": true})
}

func TestDecodeUnknownRelation(t *testing.T) {
	for name, m := range map[string][]byte{
		"insert":   insertMsg(0, 16999, txt("1")),
		"update":   updateMsg(0, 16999, 0, nil, []cell{txt("1")}),
		"delete":   deleteMsg(0, 16999, 'K', txt("1")),
		"truncate": truncateMsg(0, 0, 16999),
	} {
		t.Run(name, func(t *testing.T) {
			err := decodeErr(t, newDecoder(nil), beginMsg(0x10, commitTime, 7), m)
			if err == nil || !strings.Contains(err.Error(), "relation OID 16999") {
				t.Fatalf("got %v, want an error naming relation OID 16999", err)
			}
		})
	}
}

func TestDecodeNonTransactionalMessage(t *testing.T) {
	d := newDecoder(nil)
	out := feed(t, d, logicalMsg(0, false, 0x7000, "heartbeat", []byte{1, 2}))
	mustEqual(t, out, []*Transaction{{
		CommitLSN: 0x7000, EndLSN: 0x7000,
		Messages: []Message{{Prefix: "heartbeat", Content: []byte{1, 2}, LSN: 0x7000}},
	}})
	// It does not disturb a transaction being received.
	out = feed(t, d,
		beginMsg(0x7100, commitTime, 8),
		dishesRelation(0),
		logicalMsg(0, false, 0x7050, "heartbeat", nil),
		insertMsg(0, dishesOID, txt("1"), txt("pho"), nullCell()),
		commitMsg(0x7100, 0x7128, commitTime),
	)
	if len(out) != 2 || len(out[0].Messages) != 1 || len(out[1].Changes) != 1 || out[1].XID != 8 {
		t.Fatalf("got %s", dump(out))
	}
}

func TestDecodeMessageContentIsCopied(t *testing.T) {
	d := newDecoder(nil)
	data := logicalMsg(0, false, 0x7000, "p", []byte("abc"))
	txn, err := d.Decode(context.Background(), 0x7000, data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x' // the connection reuses its buffer for the next message
	}
	if got := string(txn.Messages[0].Content); got != "abc" {
		t.Fatalf("content changed with the input buffer: %q", got)
	}
}

func TestDecodeSequenceErrors(t *testing.T) {
	begin := beginMsg(0x10, commitTime, 9)
	for _, tc := range []struct {
		name string
		msgs [][]byte
		want string
	}{
		{"commit without begin", [][]byte{commitMsg(0x10, 0x18, commitTime)}, "without a transaction"},
		{"begin twice", [][]byte{begin, begin}, "is open"},
		{"change outside a transaction", [][]byte{dishesRelation(0), insertMsg(0, dishesOID, txt("1"), txt("a"), nullCell())}, "outside a transaction"},
		{"origin outside a transaction", [][]byte{originMsg(1, "x")}, "outside a transaction"},
		{"transactional message outside a transaction", [][]byte{logicalMsg(0, true, 1, "p", nil)}, "outside a transaction"},
		{"stream stop without start", [][]byte{streamStopMsg()}, "outside a stream segment"},
		{"later segment without the first", [][]byte{streamStartMsg(50, false)}, "without its first"},
		{"begin inside a segment", [][]byte{streamStartMsg(50, true), begin}, "inside a segment"},
		{"stream start inside a segment", [][]byte{streamStartMsg(50, true), streamStartMsg(51, true)}, "inside a segment"},
		{"stream commit inside a segment", [][]byte{streamStartMsg(50, true), streamCommitMsg(50, 1, 2, commitTime)}, "inside a stream segment"},
		{"stream start inside a transaction", [][]byte{begin, streamStartMsg(50, true)}, "is open"},
		{"too few columns", [][]byte{begin, dishesRelation(0), insertMsg(0, dishesOID, txt("1"))}, "1 columns where the relation has 3"},
		{"bad value", [][]byte{begin, dishesRelation(0), insertMsg(0, dishesOID, txt("one"), txt("a"), nullCell())}, `column "id"`},
		{"unknown message type", [][]byte{{'Z', 0, 0}}, "unknown message type"},
		{"empty message", [][]byte{{}}, "empty message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeErr(t, newDecoder(nil), tc.msgs...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Numeric stands for the caller's exact decimal type: rows must hold it,
// not a plain string, for numeric values.
type Numeric string

func newDecoder(types TypeResolver) *Decoder[Numeric] { return NewDecoder[Numeric](Protocol{}, types) }

// A released transaction's slice of changes is filled by the next
// transaction, from empty; one too large to keep is left to the collector.
func TestDecodeReleaseReusesChanges(t *testing.T) {
	d := newDecoder(nil)
	first := feed(t, d, beginMsg(0x10, commitTime, 1), dishesRelation(0),
		insertMsg(0, dishesOID, txt("1"), txt("pho"), nullCell()),
		insertMsg(0, dishesOID, txt("2"), txt("laksa"), nullCell()),
		commitMsg(0x10, 0x18, commitTime))[0]
	backing := &first.Changes[:1][0]
	d.Release(first)
	if first.Changes != nil {
		t.Fatal("a released transaction keeps its changes")
	}
	second := feed(t, d, beginMsg(0x20, commitTime, 2), insertMsg(0, dishesOID, txt("3"), txt("curry"), nullCell()),
		commitMsg(0x20, 0x28, commitTime))[0]
	mustEqual(t, second.Changes, []Change{{Op: Insert, Table: dishes, Key: []string{"id"},
		New: Row{"id": int64(3), "name": "curry", "price": nil}}})
	if &second.Changes[0] != backing {
		t.Error("the released slice of changes was not reused")
	}

	d.Release(&Transaction{Changes: make([]Change, 0, maxSpareChanges+1)})
	if d.spare != nil {
		t.Errorf("kept a slice of %d changes", cap(d.spare))
	}
}
