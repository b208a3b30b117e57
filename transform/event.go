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
	// Key holds the primary key (replica identity) values of the row.
	Key    capture.Row `json:"key,omitempty"`
	Before capture.Row `json:"before,omitempty"`
	After  capture.Row `json:"after,omitempty"`
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
		Copied: txn.Copied, Events: make([]Event, len(txn.Changes)),
	}
	for i := range txn.Changes {
		out.Events[i] = newEvent(txn.Source, &txn.Changes[i], types)
	}
	return out
}

func newEvent(source string, c *capture.Change, types EventTypes) Event {
	verb := opVerbs[c.Op]
	typ := c.Table.Name + "." + verb
	if names, ok := types[c.Table.String()]; ok && names[verb] != "" {
		typ = names[verb]
	}
	ev := Event{Type: typ, Source: source, Table: c.Table, Op: c.Op, Before: c.Old, After: c.New, Unchanged: c.Unchanged}
	row := c.New
	if c.Op == capture.Delete {
		row = c.Old
	}
	if len(c.Key) > 0 && row != nil {
		ev.Key = make(capture.Row, len(c.Key))
		for _, k := range c.Key {
			ev.Key[k] = row[k]
		}
	}
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
