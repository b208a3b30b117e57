package pgoutput

import (
	"context"
	"fmt"

	"github.com/jackc/pglogrepl"
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
	// txn is the transaction between Begin and Commit, if any.
	txn *Transaction
	// streams holds the large transactions the server streams before they
	// commit (protocol version 2), by top-level xid; segment is the one
	// whose segment is being received, between StreamStart and StreamStop.
	streams map[uint32]*streamedTxn
	segment *streamedTxn
	// abortInfo says Stream Abort messages carry the abort LSN and time
	// (protocol 4, streaming 'parallel').
	abortInfo bool
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
// panic. data is not retained.
func (d *Decoder[N]) Decode(ctx context.Context, walStart LSN, data []byte) (txn *Transaction, err error) {
	// pglogrepl's parsers index the input without bounds checks; checkFrame
	// rejects short input first, and this turns any case it misses into an
	// error as well.
	defer func() {
		if r := recover(); r != nil {
			txn, err = nil, fmt.Errorf("malformed pgoutput message at %s: decoding panicked: %v", walStart, r)
		}
	}()
	inStream := d.segment != nil
	if err := checkFrame(data, inStream, d.abortInfo); err != nil {
		return nil, fmt.Errorf("malformed pgoutput message at %s: %w", walStart, err)
	}
	if data[0] == byte(pglogrepl.MessageTypeStreamAbort) {
		// pglogrepl reads only the fields of protocol 2 here.
		if err := d.streamAbort(parseStreamAbort(data, d.abortInfo)); err != nil {
			return nil, fmt.Errorf("pgoutput StreamAbort message at %s: %w", walStart, err)
		}
		return nil, nil
	}
	msg, err := pglogrepl.ParseV2(data, inStream)
	if err != nil {
		return nil, fmt.Errorf("parse pgoutput %s message at %s: %w", pglogrepl.MessageType(data[0]), walStart, err)
	}
	txn, err = d.apply(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("pgoutput %s message at %s: %w", msg.Type(), walStart, err)
	}
	return txn, nil
}

func (d *Decoder[N]) apply(ctx context.Context, msg pglogrepl.Message) (*Transaction, error) {
	switch m := msg.(type) {
	case *pglogrepl.BeginMessage:
		return nil, d.begin(m)
	case *pglogrepl.CommitMessage:
		return d.commit(m)
	case *pglogrepl.OriginMessage:
		return nil, d.origin(m)
	case *pglogrepl.LogicalDecodingMessageV2:
		return d.message(m)
	case *pglogrepl.RelationMessageV2:
		return nil, d.describe(ctx, &m.RelationMessage)
	case *pglogrepl.TypeMessageV2:
		// The message names a type but says nothing of its kind, which the
		// resolver reads from the catalog when a relation uses the type.
		return nil, nil
	case *pglogrepl.InsertMessageV2:
		return nil, d.insert(m)
	case *pglogrepl.UpdateMessageV2:
		return nil, d.update(m)
	case *pglogrepl.DeleteMessageV2:
		return nil, d.delete(m)
	case *pglogrepl.TruncateMessageV2:
		return nil, d.truncate(m)
	case *pglogrepl.StreamStartMessageV2:
		return nil, d.streamStart(m)
	case *pglogrepl.StreamStopMessageV2:
		return nil, d.streamStop()
	case *pglogrepl.StreamCommitMessageV2:
		return d.streamCommit(m)
	default:
		return nil, fmt.Errorf("unexpected message %T", msg)
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
