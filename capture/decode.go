package capture

import (
	"context"

	"github.com/projector-dev/projector/capture/pgoutput"
)

// Decoder turns the pgoutput messages of one replication connection into
// the committed transactions of a source. It is capture/pgoutput's decoder
// with the source's name added: see pgoutput.Decoder for what it keeps
// between messages. A new connection needs a new Decoder. It is not safe
// for concurrent use.
//
// Changes of one relation share its Key slice; consumers must not modify
// it.
type Decoder struct {
	source string
	dec    *pgoutput.Decoder[Numeric]
	// paged is the committed transaction whose spilled changes are being
	// delivered a page at a time (see spill_pages.go).
	paged *paging
	// pageBytes is the weight of the first page Decode returned last, 0
	// when it returned a whole transaction.
	pageBytes int64
}

// NewDecoder returns a decoder for the source named source, for a stream
// started with the options of any protocol version but 4's streaming
// 'parallel'. types describes column types pgx does not know (enums,
// domains, their arrays); with a nil types, values of such types are kept
// as text.
func NewDecoder(source string, types TypeResolver) *Decoder {
	return newDecoder(source, pgoutput.Protocol{}, types)
}

func newDecoder(source string, p pgoutput.Protocol, types TypeResolver) *Decoder {
	return &Decoder{source: source, dec: pgoutput.NewDecoder[Numeric](p, types)}
}

// Decode consumes one pgoutput message: the WALData of one XLogData, which
// the server sent at walStart. It returns the transaction the message
// completes, or nil: see pgoutput.Decoder.Decode. An error means the
// stream cannot be decoded any further.
func (d *Decoder) Decode(ctx context.Context, walStart LSN, data []byte) (*Transaction, error) {
	d.pageBytes = 0
	t, err := d.dec.Decode(ctx, pgoutput.LSN(walStart), data)
	if t == nil || err != nil {
		return nil, err
	}
	if t.Rest != nil {
		return d.firstPage(t)
	}
	txn := d.transaction(t)
	d.dec.Release(t)
	return txn, nil
}

// transaction gives a decoded transaction its source. Rows, keys and
// message contents are shared, not copied: only the slices of changes and
// messages are new, sized exactly, and the decoder's slice of changes is
// handed back to it for the next transaction.
func (d *Decoder) transaction(t *pgoutput.Transaction) *Transaction {
	txn := &Transaction{
		Source:     d.source,
		XID:        t.XID,
		CommitLSN:  LSN(t.CommitLSN),
		EndLSN:     LSN(t.EndLSN),
		CommitTime: t.CommitTime,
		Origin:     t.Origin,
	}
	if len(t.Changes) > 0 {
		txn.Changes = make([]Change, len(t.Changes))
		for i := range t.Changes {
			c := &t.Changes[i]
			txn.Changes[i] = Change{
				Op:        Op(c.Op),
				Table:     Table{Schema: c.Table.Schema, Name: c.Table.Name},
				Key:       c.Key,
				Old:       Row(c.Old),
				New:       Row(c.New),
				Unchanged: c.Unchanged,
			}
		}
	}
	if len(t.Messages) > 0 {
		txn.Messages = make([]Message, len(t.Messages))
		for i, m := range t.Messages {
			txn.Messages[i] = Message{Prefix: m.Prefix, Content: m.Content, Transactional: m.Transactional, LSN: LSN(m.LSN)}
		}
	}
	return txn
}

// takeLossy returns the lossy values the decoder met since the last call.
func (d *Decoder) takeLossy() lossyCounts { return d.dec.TakeLossy() }
