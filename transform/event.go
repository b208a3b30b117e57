package transform

import (
	"reflect"
	"slices"
	"time"

	"github.com/projector-dev/projector/capture"
)

// Event is a domain event: one row change, typed and positioned. Events are
// the currency between capture and view building; they serialise to JSON so
// a log such as Kafka or NATS JetStream can carry them between the two.
type Event struct {
	// Type is "<table>.created|updated|deleted|truncated" unless the table
	// has its own names (see EventTypes).
	Type   string        `json:"type"`
	Source string        `json:"source"`
	Table  capture.Table `json:"table"`
	Op     capture.Op    `json:"op"`
	// KeyColumns names the columns that identify the row (its replica
	// identity, the primary key by default), in key order; their values
	// are in After, or in Before for a delete.
	KeyColumns []string    `json:"key_columns,omitempty"`
	Before     capture.Row `json:"before,omitempty"`
	After      capture.Row `json:"after,omitempty"`
	// Changed lists the columns an update changed, as far as the server
	// told: without REPLICA IDENTITY FULL the old values are unknown and
	// every column sent counts as changed.
	Changed []string `json:"changed,omitempty"`
	// Unchanged lists TOASTed columns the update did not touch and the
	// server did not resend.
	Unchanged []string `json:"unchanged,omitempty"`
}

// Transaction is a source transaction as domain events, with the position
// that must be confirmed once it is durable.
type Transaction struct {
	Source       string      `json:"source"`
	XID          uint32      `json:"xid"`
	CommitLSN    capture.LSN `json:"commit_lsn"`
	EndLSN       capture.LSN `json:"end_lsn"`
	CommitTime   time.Time   `json:"commit_time"`
	Snapshot     bool        `json:"snapshot,omitempty"`
	Reset        bool        `json:"reset,omitempty"`
	SnapshotDone bool        `json:"snapshot_done,omitempty"`
	// Copied lists the tables of the source whose snapshot copy is
	// complete as of a snapshot transaction.
	Copied []capture.Table `json:"copied,omitempty"`
	Events []Event         `json:"events"`
	// Bytes is the captured transaction's memory weight (see
	// capture.Transaction.Bytes), charged against the feed's budget.
	Bytes int64 `json:"-"`
}

// EventTypes overrides event type names per table ("schema.table"), by
// operation: created, updated, deleted, truncated.
type EventTypes map[string]map[string]string

var opVerbs = map[capture.Op]string{
	capture.Read:     "created",
	capture.Insert:   "created",
	capture.Update:   "updated",
	capture.Delete:   "deleted",
	capture.Truncate: "truncated",
}

// FromCapture turns a captured transaction into domain events.
func FromCapture(txn *capture.Transaction, types EventTypes) *Transaction {
	out := &Transaction{
		Source: txn.Source, XID: txn.XID, CommitLSN: txn.CommitLSN, EndLSN: txn.EndLSN,
		CommitTime: txn.CommitTime, Snapshot: txn.Snapshot, Reset: txn.Reset, SnapshotDone: txn.SnapshotDone,
		Copied: txn.Copied, Events: make([]Event, len(txn.Changes)), Bytes: txn.Bytes,
	}
	var names typeNames
	for i := range txn.Changes {
		out.Events[i] = newEvent(txn.Source, &txn.Changes[i], names.of(txn.Changes[i].Table, txn.Changes[i].Op, types))
	}
	return out
}

// typeNames remembers the last event type name it made: the changes of a
// transaction, and all the rows of a snapshot chunk, are mostly of one
// table and operation, and each name is a string to build.
type typeNames struct {
	table capture.Table
	op    capture.Op
	name  string
}

func (n *typeNames) of(t capture.Table, op capture.Op, types EventTypes) string {
	if n.name != "" && n.table == t && n.op == op {
		return n.name
	}
	verb := opVerbs[op]
	name := t.Name + "." + verb
	if len(types) > 0 {
		if names, ok := types[t.String()]; ok && names[verb] != "" {
			name = names[verb]
		}
	}
	*n = typeNames{table: t, op: op, name: name}
	return name
}

func newEvent(source string, c *capture.Change, typ string) Event {
	ev := Event{Type: typ, Source: source, Table: c.Table, Op: c.Op, KeyColumns: c.Key,
		Before: c.Old, After: c.New, Unchanged: c.Unchanged}
	if c.Op == capture.Update {
		ev.Changed = changedColumns(c)
	}
	return ev
}

func changedColumns(c *capture.Change) []string {
	full := len(c.Old) > len(c.Key)
	var changed []string
	for col, v := range c.New {
		if !full || !reflect.DeepEqual(c.Old[col], v) {
			changed = append(changed, col)
		}
	}
	slices.Sort(changed)
	return changed
}
