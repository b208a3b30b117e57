package capture

import (
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
)

// LSN is a position in a server's write-ahead log.
type LSN uint64

// String formats the LSN the way PostgreSQL does ("16/B374D848").
func (l LSN) String() string { return pglogrepl.LSN(l).String() }

// ParseLSN reads PostgreSQL's text form of an LSN.
func ParseLSN(s string) (LSN, error) {
	l, err := pglogrepl.ParseLSN(s)
	if err != nil {
		return 0, fmt.Errorf("parse LSN %q: %w", s, err)
	}
	return LSN(l), nil
}

// MarshalText makes LSNs readable in JSON and logs.
func (l LSN) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads an LSN written by MarshalText.
func (l *LSN) UnmarshalText(b []byte) error {
	v, err := ParseLSN(string(b))
	*l = v
	return err
}

// Op says what happened to a row.
type Op string

// The row operations. Read marks a row copied by the initial snapshot.
const (
	Read     Op = "read"
	Insert   Op = "insert"
	Update   Op = "update"
	Delete   Op = "delete"
	Truncate Op = "truncate"
)

// Table names a table in its database.
type Table struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
}

// String returns schema.name.
func (t Table) String() string { return t.Schema + "." + t.Name }

// Row holds decoded column values by column name. Values are typed Go
// values: int64, float64, bool, string, Numeric, time.Time, []byte,
// json.RawMessage, []any for arrays, nil for NULL.
type Row map[string]any

// Numeric is an exact decimal in PostgreSQL's text form, including "NaN",
// "Infinity" and "-Infinity". It is never rounded through a float.
type Numeric string

// Change is one row change inside a transaction: what happened (Op), to
// which row (Table, Key) and the row before and after. Its JSON form is
// described in docs/events.md.
type Change struct {
	Op    Op
	Table Table
	// Key lists the columns that identify the row and make its document
	// _id, in order: the replica identity index's columns, or the primary
	// key under REPLICA IDENTITY DEFAULT and FULL. Their values are in New,
	// or in Old for a delete; a truncate names them without values. Empty
	// for a table with no such key. A Decoder without a catalog to ask (a
	// TypeResolver that is no KeyResolver) can give a FULL table's changes
	// only the columns the server flags: all of them.
	Key []string
	// Old is the old row for updates and deletes: the key columns, or the
	// whole row under REPLICA IDENTITY FULL. Nil for inserts, and for
	// updates that changed no key column under any other identity.
	Old Row
	// New is the row after an insert or update. Nil for deletes.
	New Row
	// Unchanged names TOASTed columns the server did not resend because the
	// update left them alone: they keep their previous value, never NULL.
	Unchanged []string
}

// Message is a logical decoding message written by pg_logical_emit_message.
type Message struct {
	Prefix        string `json:"prefix"`
	Content       []byte `json:"content"`
	Transactional bool   `json:"transactional"`
	LSN           LSN    `json:"lsn"`
}

// Transaction is a committed source transaction, delivered whole (or, too
// large for memory, in pages: see More) and in commit order. It is projector's domain event: capture produces it, the
// view engine applies it and `projector tail` prints it, and it
// serialises to a versioned JSON form (SchemaVersion, docs/events.md) that
// a log between capture and the engine can carry. Its source position is
// CommitLSN (EndLSN once applied), its time CommitTime. Snapshot rows
// arrive as transactions with Snapshot set, all positioned at the slot's
// consistent point.
type Transaction struct {
	Source     string    `json:"source"`
	XID        uint32    `json:"xid"`
	CommitLSN  LSN       `json:"commit_lsn"`
	EndLSN     LSN       `json:"end_lsn"` // confirm this once the transaction is durable
	CommitTime time.Time `json:"commit_time"`
	Origin     string    `json:"origin,omitempty"`
	// Snapshot marks rows copied by the initial snapshot. Reset is set on
	// the first snapshot transaction of a (re)bootstrap: everything captured
	// from this source before is void. SnapshotDone is set on the last one.
	// Copied lists the tables whose copy is complete as of a snapshot
	// transaction: downstream can finish what depends on them alone before
	// the whole snapshot is done.
	Snapshot     bool      `json:"snapshot,omitempty"`
	Reset        bool      `json:"reset,omitempty"`
	SnapshotDone bool      `json:"snapshot_done,omitempty"`
	Copied       []Table   `json:"copied,omitempty"`
	Changes      []Change  `json:"changes"`
	Messages     []Message `json:"messages,omitempty"`
	// More says the transaction's changes go on in the next transaction
	// delivered, at the same position: a transaction too large to hold in
	// memory arrives in several pages, and only the last one, without
	// More, completes it and carries its messages.
	More bool `json:"more,omitempty"`
	// Offset is, on a page, the index of its first change within the
	// whole transaction, so that a change's place in its transaction does
	// not depend on how the transaction was paged.
	Offset int `json:"offset,omitempty"`
	// Bytes estimates what the transaction holds in memory, set once where
	// capture decodes or copies it: the weight every memory budget charges
	// for it.
	Bytes int64 `json:"-"`
	// recycle, on a snapshot chunk, takes its changes back once they are
	// applied (Release).
	recycle *chunkRecycler
	// charge is what the transaction holds of its stream's capture budget
	// from when capture made it until it is delivered downstream.
	charge int64
}
