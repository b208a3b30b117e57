package capture

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/projector-dev/projector/capture/pgoutput"
)

// paging is a committed transaction whose changes wait in a spill file
// and go downstream a page at a time, so that neither capture nor the
// engine holds it whole.
type paging struct {
	txn *pgoutput.Transaction // position, origin and messages
	// next is the page after the one delivered last, read ahead to know
	// whether the one delivered is the last.
	next []pgoutput.Change
}

// spillTo makes the decoder keep transactions' changes in sp's buffers,
// which spill to disk past sp's threshold.
func (d *Decoder) spillTo(sp *spiller) { d.dec.UseBuffers(sp.buffer) }

// firstPage starts delivering t, whose changes are in t.Rest.
func (d *Decoder) firstPage(t *pgoutput.Transaction) (*Transaction, error) {
	d.paged = &paging{txn: t}
	n := spillPageChanges
	if b, ok := t.Rest.(*spillBuffer); ok && b.file == nil {
		n = 0 // it never spilled: it goes whole, as it would have in memory
	}
	first, err := t.Rest.Next(n)
	if err != nil {
		return nil, errors.Join(err, d.discardPages())
	}
	return d.page(first)
}

// nextPage returns the page that follows the one delivered last, which
// had More set.
func (d *Decoder) nextPage() (*Transaction, error) {
	if d.paged == nil {
		return nil, errors.New("no transaction is being delivered in pages")
	}
	return d.page(d.paged.next)
}

// page makes the transaction of one page of changes, reading the next
// page ahead: every page but the last has More set, and the last one
// carries the messages and closes the buffer.
func (d *Decoder) page(changes []pgoutput.Change) (*Transaction, error) {
	p := d.paged
	next, err := p.txn.Rest.Next(spillPageChanges)
	if err != nil {
		return nil, errors.Join(err, d.discardPages())
	}
	t := *p.txn
	t.Changes, t.Rest = changes, nil
	more := len(next) > 0
	if more {
		t.Messages = nil
	} else if err := d.discardPages(); err != nil {
		return nil, err
	}
	txn := d.transaction(&t)
	txn.More = more
	p.next = next
	// The weight of the messages the transaction was decoded from says
	// nothing of one page's.
	txn.Bytes = txnOverhead
	for i := range changes {
		txn.Bytes += pgoutput.ChangeSize(&changes[i])
	}
	d.pageBytes = txn.Bytes
	return txn, nil
}

// discardPages drops what remains of a transaction delivered in pages.
func (d *Decoder) discardPages() error {
	if d.paged == nil {
		return nil
	}
	rest := d.paged.txn.Rest
	d.paged = nil
	if err := rest.Close(); err != nil {
		return fmt.Errorf("discard spilled transaction: %w", err)
	}
	return nil
}

// close discards the transactions in progress and being delivered, and
// the files they spilled to: those of a connection that ended, which the
// server sends again to the next one.
func (d *Decoder) close() error {
	return errors.Join(d.discardPages(), d.dec.Close())
}

// deliver hands txn downstream, and the pages that follow it when its
// changes were spilled: all of them share its position, and only the
// last, without More, completes it. A transaction cut short here (an
// error, a stop) is sent again whole by the server: nothing but the last
// page moves the position.
func (ss *session) deliver(ctx context.Context, conn *pgconn.PgConn, dec *Decoder, txn *Transaction) error {
	if dec.pageBytes > 0 {
		txn.Bytes = dec.pageBytes // a first page, weighed by its changes
	}
	offset := 0
	for {
		more := txn.More
		ss.stream.chunks.win.observe(txn) // a chunked snapshot's rows join their high watermark
		txn.Offset = offset
		offset += len(txn.Changes)
		if err := ss.push(ctx, conn, txn); err != nil {
			return errors.Join(err, dec.discardPages())
		}
		if !more {
			return nil
		}
		// Delivering a huge transaction takes a while, with nothing read
		// from the server meanwhile: it still hears from us in time.
		if err := ss.maybeSendStatus(ctx, conn, false); err != nil {
			return errors.Join(err, dec.discardPages())
		}
		next, err := dec.nextPage()
		if err != nil {
			return decodeError(err)
		}
		next.EndLSN, next.CommitTime = txn.EndLSN, txn.CommitTime
		txn = next
	}
}
