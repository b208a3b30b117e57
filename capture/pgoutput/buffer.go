package pgoutput

import (
	"encoding/json"
	"reflect"
	"time"
)

// Buffer holds the row changes of one transaction from its first change to
// its commit or abort. The decoder adds every change through a Buffer, so
// that where a transaction waits is the caller's choice: in memory (the
// default), or spilled to disk past a size, which bounds the memory a huge
// transaction takes.
//
// A Buffer is used by one goroutine. Once the decoder hands it out in
// Transaction.Rest it belongs to the caller, who reads it with Next and
// must Close it; a buffer of an aborted transaction is closed by the
// decoder.
type Buffer interface {
	// Add appends c, made by the (sub)transaction xid.
	Add(xid uint32, c Change) error
	// DropXID removes the changes of the subtransaction xid, which
	// aborted; the others keep their order.
	DropXID(xid uint32) error
	// Len is the number of changes held.
	Len() int
	// Size estimates the bytes the changes take, in memory and spilled.
	Size() int64
	// Next returns up to n of the changes (all of them when n < 1) that
	// follow those it returned before, in order; none at the end. Nothing
	// may be added once Next was called.
	Next(n int) ([]Change, error)
	// Close discards what the buffer holds; it may be called more than
	// once.
	Close() error
}

// BufferFunc makes the buffer of a transaction whose top-level xid is xid.
type BufferFunc func(xid uint32) Buffer

// UseBuffers makes the decoder keep the changes of every transaction from
// now on in buffers newBuffer makes, instead of in memory. Transactions
// then complete with their changes in Transaction.Rest rather than in
// Changes. Call it before the first Decode.
func (d *Decoder[N]) UseBuffers(newBuffer BufferFunc) { d.newBuffer = newBuffer }

// buffer returns a new buffer for the transaction xid.
func (d *Decoder[N]) buffer(xid uint32) Buffer {
	if d.newBuffer != nil {
		return d.newBuffer(xid)
	}
	b := &MemoryBuffer{changes: d.spare}
	d.spare = nil
	return b
}

// finish completes txn with the changes in b: a MemoryBuffer's changes go
// into Changes, as they always did, any other buffer into Rest.
func finish(txn *Transaction, b Buffer) {
	if m, ok := b.(*MemoryBuffer); ok {
		txn.Changes = m.changes
		m.changes, m.xids = nil, nil
		return
	}
	txn.Rest = b
}

// Close discards the transactions in progress and what their buffers hold:
// the decoder of a connection that ended, whose transactions the server
// sends again to the next one. The decoder must not be used afterwards.
func (d *Decoder[N]) Close() error {
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	if d.txnBuf != nil {
		keep(d.txnBuf.Close())
		d.txn, d.txnBuf = nil, nil
	}
	for xid, st := range d.streams {
		keep(st.buf.Close())
		delete(d.streams, xid)
	}
	d.segment = nil
	return first
}

// MemoryBuffer is the Buffer that keeps every change in memory: the
// decoder's default.
type MemoryBuffer struct {
	changes []Change
	// xids holds the (sub)transaction of each change, for DropXID; nil
	// while every change belongs to the first xid added.
	xids  []uint32
	first uint32
	read  int
}

// Add appends c.
func (b *MemoryBuffer) Add(xid uint32, c Change) error {
	switch {
	case len(b.changes) == 0 && b.xids == nil:
		b.first = xid
	case b.xids == nil && xid != b.first:
		b.xids = make([]uint32, len(b.changes), cap(b.changes))
		for i := range b.xids {
			b.xids[i] = b.first
		}
	}
	b.changes = append(b.changes, c)
	if b.xids != nil {
		b.xids = append(b.xids, xid)
	}
	return nil
}

// DropXID removes the changes of xid.
func (b *MemoryBuffer) DropXID(xid uint32) error {
	if b.xids == nil {
		if xid == b.first {
			clear(b.changes)
			b.changes = b.changes[:0]
		}
		return nil
	}
	keep := 0
	for i := range b.changes {
		if b.xids[i] != xid {
			b.changes[keep], b.xids[keep] = b.changes[i], b.xids[i]
			keep++
		}
	}
	clear(b.changes[keep:])
	b.changes, b.xids = b.changes[:keep], b.xids[:keep]
	return nil
}

// XIDs returns the (sub)transaction of each change not read yet, in
// order.
func (b *MemoryBuffer) XIDs() []uint32 {
	if b.xids != nil {
		return b.xids[b.read:]
	}
	xids := make([]uint32, len(b.changes)-b.read)
	for i := range xids {
		xids[i] = b.first
	}
	return xids
}

// Len is the number of changes held.
func (b *MemoryBuffer) Len() int { return len(b.changes) - b.read }

// Size estimates the bytes the changes hold. It weighs every change on
// each call: the default buffer is never asked on the decoding path.
func (b *MemoryBuffer) Size() int64 {
	n := int64(0)
	for i := range b.changes[b.read:] {
		n += ChangeSize(&b.changes[b.read+i])
	}
	return n
}

// Next returns the next n changes, or all that remain when n < 1.
func (b *MemoryBuffer) Next(n int) ([]Change, error) {
	rest := b.changes[b.read:]
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	b.read += len(rest)
	return rest, nil
}

// Close drops the changes.
func (b *MemoryBuffer) Close() error {
	b.changes, b.xids, b.read = nil, nil, 0
	return nil
}

// Estimated memory costs of a decoded change, as the weights of capture's
// memory budget count them. TestChangeSizeMatchesHeap measures them: with
// 48 bytes a value, a typical row of six columns (a jsonb among them)
// weighed 566 bytes and held 657 on the heap, the difference being the
// map's empty slots and the values' size classes; with 64 the two agree
// within a few percent.
const (
	changeOverhead = 96 + 48 // a Change and a Row's map header
	valueOverhead  = 64      // a map slot (with its share of empty ones) and the boxed value
)

// ChangeSize estimates the bytes a change holds in memory: rough, but
// proportionate to its rows, which is what a spill threshold needs.
func ChangeSize(c *Change) int64 {
	return changeOverhead + rowSize(c.Old) + rowSize(c.New)
}

func rowSize(r Row) int64 {
	n := int64(0)
	for k, v := range r {
		n += valueOverhead + int64(len(k)) + valueSize(v)
	}
	return n
}

func valueSize(v any) int64 {
	switch v := v.(type) {
	case string:
		return int64(len(v))
	case []byte:
		return int64(len(v))
	case []any:
		n := int64(24)
		for _, e := range v {
			n += 16 + valueSize(e)
		}
		return n
	case json.RawMessage:
		return int64(len(v))
	case nil:
		return 0
	case int64, float64, bool:
		return 8
	case time.Time:
		return 24
	default:
		// The decoder's numeric type is a string type of its own.
		if r := reflect.ValueOf(v); r.Kind() == reflect.String {
			return int64(r.Len())
		}
		return 16
	}
}
