package pgoutput

import (
	"fmt"
)

// streamedTxn is a large transaction the server sends in segments while it
// is still running (protocol version 2, streaming on). Its changes wait in
// buf until StreamCommit delivers them or StreamAbort drops them.
type streamedTxn struct {
	txn Transaction
	// buf holds the changes, with the (sub)transaction of each, so that
	// aborting a subtransaction drops only its own.
	buf Buffer
	// messageXIDs holds the (sub)transaction of each message.
	messageXIDs []uint32
	// relations were described inside this transaction; they may describe
	// a schema change that exists only if it commits.
	relations map[uint32]*relSchema
}

func (st *streamedTxn) addMessage(xid uint32, m Message) {
	st.txn.Messages = append(st.txn.Messages, m)
	st.messageXIDs = append(st.messageXIDs, xid)
}

func (st *streamedTxn) describe(oid uint32, rel *relSchema) {
	if st.relations == nil {
		st.relations = map[uint32]*relSchema{}
	}
	st.relations[oid] = rel
}

// abortSubxact drops what the subtransaction xid did.
func (st *streamedTxn) abortSubxact(xid uint32) error {
	st.txn.Messages, st.messageXIDs = dropXID(st.txn.Messages, st.messageXIDs, xid)
	if err := st.buf.DropXID(xid); err != nil {
		return fmt.Errorf("drop the changes of subtransaction %d of streamed transaction %d: %w", xid, st.txn.XID, err)
	}
	return nil
}

// dropXID removes the items whose entry in xids is xid, keeping both
// slices parallel.
func dropXID[T any](items []T, xids []uint32, xid uint32) ([]T, []uint32) {
	keep := 0
	for i := range items {
		if xids[i] != xid {
			items[keep], xids[keep] = items[i], xids[i]
			keep++
		}
	}
	clear(items[keep:])
	return items[:keep], xids[:keep]
}

func (d *Decoder[N]) streamStart(m streamStartMessage) error {
	switch {
	case d.segment != nil:
		return fmt.Errorf("stream start of transaction %d inside a segment of transaction %d", m.xid, d.segment.txn.XID)
	case d.txn != nil:
		return fmt.Errorf("stream start of transaction %d while transaction %d is open", m.xid, d.txn.XID)
	}
	st := d.streams[m.xid]
	switch {
	case m.first:
		if st != nil {
			// A first segment again: what was kept of it is stale.
			if err := st.buf.Close(); err != nil {
				return fmt.Errorf("discard streamed transaction %d: %w", m.xid, err)
			}
		}
		st = &streamedTxn{txn: Transaction{XID: m.xid}, buf: d.buffer(m.xid)}
		d.streams[m.xid] = st
	case st == nil:
		return fmt.Errorf("a later segment of streamed transaction %d arrived without its first one", m.xid)
	}
	d.segment = st
	return nil
}

func (d *Decoder[N]) streamStop() error {
	if d.segment == nil {
		return fmt.Errorf("stream stop outside a stream segment")
	}
	d.segment = nil
	return nil
}

// streamCommit delivers a streamed transaction. The relations described
// inside it now hold for everyone, as the server assumes from here on.
func (d *Decoder[N]) streamCommit(m streamCommitMessage) (*Transaction, error) {
	if d.segment != nil {
		return nil, fmt.Errorf("stream commit of transaction %d inside a stream segment", m.xid)
	}
	st, ok := d.streams[m.xid]
	if !ok {
		// Nothing of it was sent in the segments; it still moves the
		// position forward.
		st = &streamedTxn{txn: Transaction{XID: m.xid}, buf: d.buffer(m.xid)}
	}
	delete(d.streams, m.xid)
	for oid, rel := range st.relations {
		d.relations[oid] = rel
	}
	txn := &st.txn
	finish(txn, st.buf)
	txn.CommitLSN = m.commitLSN
	txn.EndLSN = m.endLSN
	txn.CommitTime = m.commitTime
	return txn, nil
}

// streamAbort drops a streamed transaction, and what its buffer holds, or
// only one subtransaction of it when SubXid names another transaction than
// Xid.
func (d *Decoder[N]) streamAbort(m streamAbortMessage) error {
	if d.segment != nil {
		return fmt.Errorf("stream abort of transaction %d inside a stream segment", m.Xid)
	}
	st, ok := d.streams[m.Xid]
	switch {
	case !ok:
		return nil
	case m.SubXid == m.Xid:
		delete(d.streams, m.Xid)
		if err := st.buf.Close(); err != nil {
			return fmt.Errorf("discard aborted streamed transaction %d: %w", m.Xid, err)
		}
		return nil
	default:
		return st.abortSubxact(m.SubXid)
	}
}
