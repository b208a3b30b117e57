package pgoutput

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/jackc/pglogrepl"
)

func (d *Decoder[N]) begin(m *pglogrepl.BeginMessage) error {
	switch {
	case d.segment != nil:
		return fmt.Errorf("begin of transaction %d inside a segment of streamed transaction %d", m.Xid, d.segment.txn.XID)
	case d.txn != nil:
		return fmt.Errorf("begin of transaction %d while transaction %d is open", m.Xid, d.txn.XID)
	}
	d.txn = &Transaction{XID: m.Xid, CommitLSN: LSN(m.FinalLSN), CommitTime: m.CommitTime.UTC(), Changes: d.spare}
	d.spare = nil
	return nil
}

func (d *Decoder[N]) commit(m *pglogrepl.CommitMessage) (*Transaction, error) {
	if d.txn == nil {
		return nil, fmt.Errorf("commit at %s without a transaction", LSN(m.CommitLSN))
	}
	txn := d.txn
	d.txn = nil
	txn.CommitLSN = LSN(m.CommitLSN)
	txn.EndLSN = LSN(m.TransactionEndLSN)
	txn.CommitTime = m.CommitTime.UTC()
	return txn, nil
}

// origin records where a transaction replicated from another server
// came from.
func (d *Decoder[N]) origin(m *pglogrepl.OriginMessage) error {
	switch {
	case d.segment != nil:
		d.segment.txn.Origin = m.Name
	case d.txn != nil:
		d.txn.Origin = m.Name
	default:
		return fmt.Errorf("origin %q outside a transaction", m.Name)
	}
	return nil
}

// message handles pg_logical_emit_message. A transactional message belongs
// to its transaction; any other one was written outside transaction
// control and is delivered at once, positioned at its own LSN.
func (d *Decoder[N]) message(m *pglogrepl.LogicalDecodingMessageV2) (*Transaction, error) {
	msg := Message{
		Prefix:        m.Prefix,
		Content:       bytes.Clone(m.Content), // pglogrepl's Content aliases the input
		Transactional: m.Transactional,
		LSN:           LSN(m.LSN),
	}
	switch {
	case !m.Transactional:
		return &Transaction{CommitLSN: msg.LSN, EndLSN: msg.LSN, Messages: []Message{msg}}, nil
	case d.segment != nil:
		d.segment.addMessage(m.Xid, msg)
	case d.txn != nil:
		d.txn.Messages = append(d.txn.Messages, msg)
	default:
		return nil, errors.New("transactional message outside a transaction")
	}
	return nil, nil
}

// add appends a row change to the transaction being received. xid is the
// (sub)transaction the change belongs to inside a streamed transaction.
func (d *Decoder[N]) add(xid uint32, c Change) error {
	switch {
	case d.segment != nil:
		d.segment.addChange(xid, c)
	case d.txn != nil:
		d.txn.Changes = append(d.txn.Changes, c)
	default:
		return fmt.Errorf("%s on %s outside a transaction", c.Op, c.Table)
	}
	return nil
}
