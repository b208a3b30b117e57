package pgoutput

import (
	"context"
	"fmt"
)

// Decoder turns the pgoutput messages of one replication connection into
// committed transactions. It remembers the relations the server described
// and the transactions in progress, so it must see every message of the
// connection, in order, and a new connection needs a new Decoder: the
// server describes every relation again after a reconnect. It is not safe
// for concurrent use.
//
// N is the Go type numeric values take in rows: a caller with its own
// exact decimal type gets rows holding it, without converting each value.
type Decoder[N ~string] struct {
	values    *Values[N]
	relations map[uint32]*relSchema
	// txn is the transaction between Begin and Commit, if any, and txnBuf
	// holds its changes.
	txn    *Transaction
	txnBuf Buffer
	// newBuffer makes the buffers of transactions' changes; nil keeps
	// them in memory (see UseBuffers).
	newBuffer BufferFunc
	// streams holds the large transactions the server streams before they
	// commit (protocol version 2), by top-level xid; segment is the one
	// whose segment is being received, between StreamStart and StreamStop.
	streams map[uint32]*streamedTxn
	segment *streamedTxn
	// abortInfo says Stream Abort messages carry the abort LSN and time
	// (protocol 4, streaming 'parallel').
	abortInfo bool
	// oldCols and newCols hold the columns of the tuples of the row
	// message being decoded, reused from one message to the next.
	oldCols, newCols []tupleColumn
	// spare is the empty slice of changes of a released transaction, which
	// the next transaction fills.
	spare []Change
}

// maxSpareChanges bounds the slice of changes Release keeps, so that one
// huge transaction does not hold its memory for the life of the stream.
const maxSpareChanges = 4096

// NewDecoder returns a decoder for a stream started with p's plugin
// arguments; the zero Protocol reads every message of versions 1 to 3.
// types describes column types pgx does not know (enums, domains, their
// arrays); with a nil types, values of such types are kept as text.
func NewDecoder[N ~string](p Protocol, types TypeResolver) *Decoder[N] {
	return &Decoder[N]{
		values:    NewValues[N](types),
		relations: map[uint32]*relSchema{},
		streams:   map[uint32]*streamedTxn{},
		abortInfo: p.Parallel,
	}
}

// Decode consumes one pgoutput message: the WALData of one XLogData, which
// the server sent at walStart. It returns the transaction the message
// completes, or nil. A commit completes a transaction; a non-transactional
// logical decoding message is returned at once as a transaction holding
// only that message. Relation and type lookups may query the source
// through the TypeResolver, under ctx.
//
// An error means the stream cannot be decoded any further; the Decoder
// must not be used after it. Malformed input is always an error, never a
// panic. data is not retained: nothing decoded aliases it.
func (d *Decoder[N]) Decode(ctx context.Context, walStart LSN, data []byte) (txn *Transaction, err error) {
	// Messages are read with bounds checks; this turns a panic in a value
	// codec on garbled bytes into an error as well.
	defer func() {
		if r := recover(); r != nil {
			txn, err = nil, fmt.Errorf("malformed pgoutput message at %s: decoding panicked: %v", walStart, r)
		}
	}()
	if len(data) == 0 {
		return nil, fmt.Errorf("malformed pgoutput message at %s: empty message", walStart)
	}
	r := &reader{b: data[1:]}
	txn, err = d.decode(ctx, data[0], r)
	switch {
	case r.err != nil:
		return nil, fmt.Errorf("malformed pgoutput message at %s: %w", walStart, r.err)
	case err != nil:
		return nil, fmt.Errorf("pgoutput %s message at %s: %w", messageName(data[0]), walStart, err)
	}
	return txn, nil
}

// decode reads a message of type kind whole, then applies it, so that a
// malformed message (r.err) changes nothing.
func (d *Decoder[N]) decode(ctx context.Context, kind byte, r *reader) (txn *Transaction, err error) {
	inStream := d.segment != nil
	switch kind {
	case 'B':
		if m := r.begin(); r.ok() {
			err = d.begin(m)
		}
	case 'C':
		if m := r.commit(); r.ok() {
			txn, err = d.commit(m)
		}
	case 'O':
		if name := r.origin(); r.ok() {
			err = d.origin(name)
		}
	case 'M':
		if m := r.message(inStream); r.ok() {
			txn, err = d.message(m)
		}
	case 'R':
		if _, m := r.relation(inStream); r.ok() {
			err = d.describe(ctx, m)
		}
	case 'Y':
		// The message names a type but says nothing of its kind, which the
		// resolver reads from the catalog when a relation uses the type.
		r.typ(inStream)
	case 'I', 'U', 'D':
		m := r.row(kind, inStream, d.oldCols, d.newCols)
		if r.ok() {
			err = d.change(kind, m)
		}
		d.reuseColumns(m)
	case 'T':
		if m := r.truncate(inStream); r.ok() {
			err = d.truncate(m)
		}
	case 'S':
		if m := r.streamStart(); r.ok() {
			err = d.streamStart(m)
		}
	case 'E':
		err = d.streamStop()
	case 'c':
		if m := r.streamCommit(); r.ok() {
			txn, err = d.streamCommit(m)
		}
	case 'A':
		if m := r.streamAbort(d.abortInfo); r.ok() {
			err = d.streamAbort(m)
		}
	default:
		r.fail("unknown message type %q", kind)
	}
	return txn, err
}

// reuseColumns keeps the arrays of a row message's tuples for the next
// one, cleared so that they do not keep the message's bytes alive.
func (d *Decoder[N]) reuseColumns(m rowMessage) {
	if m.old != nil {
		clear(m.old)
		d.oldCols = m.old[:0]
	}
	if m.new != nil {
		clear(m.new)
		d.newCols = m.new[:0]
	}
}

// Release hands back a transaction whose changes the caller has copied
// elsewhere: the next transaction reuses its slice of changes, which saves
// growing a new one. The rows, keys and messages it held are not reused.
// t must not be used afterwards.
func (d *Decoder[N]) Release(t *Transaction) {
	if c := cap(t.Changes); c > cap(d.spare) && c <= maxSpareChanges {
		clear(t.Changes)
		d.spare = t.Changes[:0]
	}
	t.Changes = nil
}

// TakeLossy returns the lossy values the decoder met since the last call.
func (d *Decoder[N]) TakeLossy() LossyCounts { return d.values.TakeLossy() }
