package pgoutput

import (
	"fmt"
	"time"
)

// LSN is a position in the server's write-ahead log.
type LSN uint64

// Op says what a change did to a row.
type Op string

// The row operations a pgoutput stream carries.
const (
	Insert   Op = "insert"
	Update   Op = "update"
	Delete   Op = "delete"
	Truncate Op = "truncate"
)

// Table names a table in its database.
type Table struct {
	Schema string
	Name   string
}

// String returns schema.name.
func (t Table) String() string { return t.Schema + "." + t.Name }

// Row holds decoded column values by column name: int64, float64, bool,
// string, the decoder's numeric type, time.Time, []byte, json.RawMessage,
// []any for arrays, nil for NULL. docs/types.md lists which PostgreSQL
// type becomes which.
type Row map[string]any

// Change is one row change inside a transaction.
type Change struct {
	Op    Op
	Table Table
	// Key lists the replica identity columns of the table, in order. Every
	// change of one relation shares the slice; it must not be modified.
	Key []string
	// Old is the old row of an update or delete: the key columns, or the
	// whole row under REPLICA IDENTITY FULL. Nil for inserts.
	Old Row
	// New is the row after an insert or update. Nil for deletes.
	New Row
	// Unchanged names TOASTed columns the server did not resend because the
	// update left them alone: they keep their previous value, never NULL.
	Unchanged []string
}

// Message is a logical decoding message written by pg_logical_emit_message.
type Message struct {
	Prefix        string
	Content       []byte
	Transactional bool
	LSN           LSN
}

// Transaction is a committed transaction, or a non-transactional message
// delivered on its own: then XID is 0, both LSNs are the message's and only
// Messages is set.
type Transaction struct {
	XID       uint32
	CommitLSN LSN
	// EndLSN is the end of the commit record: what a client confirms once
	// the transaction is durable on its side.
	EndLSN     LSN
	CommitTime time.Time
	Origin     string
	Changes    []Change
	// Rest, when set, holds the transaction's changes instead of Changes:
	// the decoder kept them in a Buffer of the caller's (see UseBuffers).
	// The caller reads them with Rest.Next and must close it.
	Rest     Buffer
	Messages []Message
}

// String formats the LSN the way PostgreSQL does ("16/B374D848").
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }
