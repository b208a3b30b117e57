package pgoutput

import (
	"bytes"
	"errors"
	"fmt"
)

func (d *Decoder[N]) begin(m beginMessage) error {
	switch {
	case d.segment != nil:
		return fmt.Errorf("begin of transaction %d inside a segment of streamed transaction %d", m.xid, d.segment.txn.XID)
	case d.txn != nil:
		return fmt.Errorf("begin of transaction %d while transaction %d is open", m.xid, d.txn.XID)
	}
	d.txn = &Transaction{XID: m.xid, CommitLSN: m.finalLSN, CommitTime: m.commitTime}
	d.txnBuf = d.buffer(m.xid)
	return nil
}

func (d *Decoder[N]) commit(m commitMessage) (*Transaction, error) {
	if d.txn == nil {
		return nil, fmt.Errorf("commit at %s without a transaction", m.commitLSN)
	}
	txn := d.txn
	finish(txn, d.txnBuf)
	d.txn, d.txnBuf = nil, nil
	txn.CommitLSN = m.commitLSN
	txn.EndLSN = m.endLSN
	txn.CommitTime = m.commitTime
	return txn, nil
}

// origin records where a transaction replicated from another server
// came from.
func (d *Decoder[N]) origin(name string) error {
	switch {
	case d.segment != nil:
		d.segment.txn.Origin = name
	case d.txn != nil:
		d.txn.Origin = name
	default:
		return fmt.Errorf("origin %q outside a transaction", name)
	}
	return nil
}

// message handles pg_logical_emit_message. A transactional message belongs
// to its transaction; any other one was written outside transaction
// control and is delivered at once, positioned at its own LSN.
func (d *Decoder[N]) message(m logicalMessage) (*Transaction, error) {
	msg := Message{
		Prefix:        m.prefix,
		Content:       bytes.Clone(m.content), // m.content aliases the input
		Transactional: m.transactional,
		LSN:           m.lsn,
	}
	switch {
	case !m.transactional:
		return &Transaction{CommitLSN: msg.LSN, EndLSN: msg.LSN, Messages: []Message{msg}}, nil
	case d.segment != nil:
		d.segment.addMessage(m.xid, msg)
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
		return d.segment.buf.Add(xid, c)
	case d.txn != nil:
		return d.txnBuf.Add(xid, c)
	default:
		return fmt.Errorf("%s on %s outside a transaction", c.Op, c.Table)
	}
}
