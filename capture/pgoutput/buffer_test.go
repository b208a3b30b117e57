package pgoutput

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"
)

// recordingBuffer is a Buffer that keeps its changes in their binary form,
// as a spilling buffer does on disk, and records what the decoder did with
// it.
type recordingBuffer struct {
	xid     uint32
	records [][]byte
	dropped []uint32
	closed  bool
	read    int
}

func (b *recordingBuffer) Add(xid uint32, c Change) error {
	rec, err := AppendChange[Numeric](nil, xid, &c)
	if err != nil {
		return err
	}
	b.records = append(b.records, rec)
	return nil
}

func (b *recordingBuffer) DropXID(xid uint32) error {
	b.dropped = append(b.dropped, xid)
	return nil
}

func (b *recordingBuffer) Len() int    { return len(b.records) }
func (b *recordingBuffer) Size() int64 { return 0 }

func (b *recordingBuffer) Next(n int) ([]Change, error) {
	var codec ChangeCodec[Numeric]
	var out []Change
	for ; b.read < len(b.records) && (n < 1 || len(out) < n); b.read++ {
		xid, c, err := codec.Read(b.records[b.read])
		if err != nil {
			return nil, err
		}
		if !slices.Contains(b.dropped, xid) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (b *recordingBuffer) Close() error { b.closed = true; return nil }

// With buffers of the caller's, a transaction completes with its changes
// in Rest, in order; a streamed one's buffer hears of its aborted
// subtransaction, and an aborted streamed transaction's buffer is closed.
func TestDecodeThroughBuffers(t *testing.T) {
	const top, sub = 900, 901
	d := newDecoder(nil)
	buffers := map[uint32]*recordingBuffer{}
	d.UseBuffers(func(xid uint32) Buffer {
		b := &recordingBuffer{xid: xid}
		buffers[xid] = b
		return b
	})
	out := feed(t, d,
		dishesRelation(0),
		beginMsg(0x10, commitTime, 800),
		insertMsg(0, dishesOID, txt("10"), txt("ramen"), nullCell()),
		insertMsg(0, dishesOID, txt("11"), txt("udon"), txt("9.50")),
		commitMsg(0x10, 0x18, commitTime),
		streamStartMsg(top, true),
		insertMsg(top, dishesOID, txt("1"), txt("pho"), nullCell()),
		insertMsg(sub, dishesOID, txt("2"), txt("laksa"), nullCell()),
		streamStopMsg(),
		streamStartMsg(910, true),
		insertMsg(910, dishesOID, txt("5"), txt("gone"), nullCell()),
		streamStopMsg(),
		streamAbortMsg(top, sub),
		streamAbortMsg(910, 910),
		streamCommitMsg(top, 0x50, 0x58, commitTime),
	)
	if len(out) != 2 {
		t.Fatalf("got %s", dump(out))
	}
	key := []string{"id"}
	for i, want := range [][]Change{
		{
			{Op: Insert, Table: dishes, Key: key, New: Row{"id": int64(10), "name": "ramen", "price": nil}},
			{Op: Insert, Table: dishes, Key: key, New: Row{"id": int64(11), "name": "udon", "price": Numeric("9.50")}},
		},
		{{Op: Insert, Table: dishes, Key: key, New: Row{"id": int64(1), "name": "pho", "price": nil}}},
	} {
		if out[i].Changes != nil || out[i].Rest == nil {
			t.Fatalf("transaction %d: changes %v, rest %v: want them in Rest", i, out[i].Changes, out[i].Rest)
		}
		got, err := out[i].Rest.Next(0)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, got, want)
	}
	if b := buffers[top]; !slices.Equal(b.dropped, []uint32{sub}) || b.closed {
		t.Errorf("committed streamed buffer: dropped %v, closed %v; want [%d] dropped and left open for the caller", b.dropped, b.closed, sub)
	}
	if b := buffers[910]; !b.closed {
		t.Error("the buffer of the aborted streamed transaction was not closed")
	}
}

// Closing the decoder of a connection that ended closes the buffers of
// the transactions it was receiving, streamed or not.
func TestDecoderCloseDiscardsOpenTransactions(t *testing.T) {
	d := newDecoder(nil)
	var made []*recordingBuffer
	d.UseBuffers(func(xid uint32) Buffer {
		b := &recordingBuffer{xid: xid}
		made = append(made, b)
		return b
	})
	feed(t, d,
		dishesRelation(0),
		streamStartMsg(900, true),
		insertMsg(900, dishesOID, txt("1"), txt("pho"), nullCell()),
		streamStopMsg(),
		beginMsg(0x10, commitTime, 800),
		insertMsg(0, dishesOID, txt("10"), txt("ramen"), nullCell()),
	)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if len(made) != 2 || !made[0].closed || !made[1].closed {
		t.Fatalf("buffers after Close: %+v; want both closed", made)
	}
	if len(d.streams) != 0 || d.txn != nil {
		t.Fatalf("transactions left in progress: %v, %v", d.streams, d.txn)
	}
}

func TestMemoryBuffer(t *testing.T) {
	ins := func(id int64) Change { return Change{Op: Insert, Table: dishes, New: Row{"id": id}} }
	ids := func(cs []Change) []int64 {
		var out []int64
		for _, c := range cs {
			out = append(out, c.New["id"].(int64))
		}
		return out
	}
	type add struct {
		xid uint32
		id  int64
	}
	for _, tc := range []struct {
		name  string
		adds  []add
		drop  []uint32
		pages []int // sizes asked of Next
		want  [][]int64
	}{
		{name: "one xid, all at once", adds: []add{{1, 1}, {1, 2}, {1, 3}}, pages: []int{0}, want: [][]int64{{1, 2, 3}}},
		{name: "pages", adds: []add{{1, 1}, {1, 2}, {1, 3}}, pages: []int{2, 2, 2}, want: [][]int64{{1, 2}, {3}, nil}},
		{name: "subxact dropped", adds: []add{{1, 1}, {2, 2}, {1, 3}, {3, 4}, {2, 5}}, drop: []uint32{2}, pages: []int{0}, want: [][]int64{{1, 3, 4}}},
		{name: "drop of an xid with nothing", adds: []add{{1, 1}}, drop: []uint32{7}, pages: []int{0}, want: [][]int64{{1}}},
		{name: "drop of the only xid", adds: []add{{1, 1}, {1, 2}}, drop: []uint32{1}, pages: []int{0}, want: [][]int64{nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &MemoryBuffer{}
			for _, a := range tc.adds {
				if err := b.Add(a.xid, ins(a.id)); err != nil {
					t.Fatal(err)
				}
			}
			for _, x := range tc.drop {
				if err := b.DropXID(x); err != nil {
					t.Fatal(err)
				}
			}
			if b.Size() <= 0 && b.Len() > 0 {
				t.Errorf("size %d for %d changes", b.Size(), b.Len())
			}
			for i, n := range tc.pages {
				got, err := b.Next(n)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), tc.want[i]) {
					t.Errorf("page %d: got %v, want %v", i, ids(got), tc.want[i])
				}
			}
			if b.Len() != 0 {
				t.Errorf("%d changes left after reading them all", b.Len())
			}
		})
	}
}

// Every type a Row holds reads back as it was written; key lists come
// back shared between changes, as the decoder shares them.
func TestChangeCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 6, 21, 30, 0, 123456000, time.UTC)
	key := []string{"id", "region"}
	changes := []Change{
		{Op: Insert, Table: dishes, Key: key, New: Row{
			"id": int64(-42), "f": 1.5, "nan": math.Inf(-1), "t": true, "f2": false, "s": "pho ✓", "n": Numeric("12.300"),
			"at": at, "j": json.RawMessage(`{"a":1}`), "b": []byte{0, 1, 2}, "empty": []byte{}, "null": nil,
			"arr": []any{[]any{int64(1), nil}, []any{int64(2), int64(3)}},
		}},
		{Op: Update, Table: dishes, Key: key, Old: Row{"id": int64(1)}, New: Row{"id": int64(2)}, Unchanged: []string{"notes"}},
		{Op: Delete, Table: Table{Schema: "s", Name: "t"}, Key: key, Old: Row{"id": int64(2)}},
		{Op: Truncate, Table: dishes, Key: []string{}},
	}
	var codec ChangeCodec[Numeric]
	var got []Change
	for i := range changes {
		rec, err := AppendChange[Numeric](nil, uint32(700+i), &changes[i])
		if err != nil {
			t.Fatal(err)
		}
		xid, c, err := codec.Read(rec)
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		if xid != uint32(700+i) {
			t.Errorf("change %d: xid %d", i, xid)
		}
		got = append(got, c)
		// Every cut of the record is an error, never a panic or a change.
		for n := range len(rec) {
			if _, _, err := codec.Read(rec[:n]); err == nil {
				t.Errorf("change %d cut to %d of %d bytes: no error", i, n, len(rec))
			}
		}
	}
	mustEqual(t, got, changes)
	if &got[0].Key[0] != &got[1].Key[0] {
		t.Error("equal key lists read back as separate slices")
	}
	if _, err := AppendChange[Numeric](nil, 1, &Change{Op: Insert, New: Row{"x": struct{}{}}}); err == nil {
		t.Error("a value of an unknown type was encoded")
	}
}
