package transform

import (
	"encoding/json"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/fold"
)

// PublishedEvent is one domain event a transaction publishes for an
// entity, as `projector tail` prints it: what the service said happened,
// next to the row changes that carried it.
type PublishedEvent struct {
	Kind          string          `json:"kind"` // always "published"
	Source        string          `json:"source"`
	Entity        string          `json:"entity"`
	Type          string          `json:"type"`
	ID            string          `json:"id,omitempty"`
	AggregateType string          `json:"aggregate_type,omitempty"`
	AggregateID   string          `json:"aggregate_id"`
	Payload       json.RawMessage `json:"payload"`
	Timestamp     string          `json:"timestamp,omitempty"`
	CommitLSN     capture.LSN     `json:"commit_lsn"`
	CommitTime    time.Time       `json:"commit_time"`
	// Error says why the event cannot be read (no type or aggregate id,
	// a payload that is not JSON); projector dead-letters such events.
	Error string `json:"error,omitempty"`
}

// Published lists the domain events txn publishes for the entities, in
// the order they were written: inserts into their event tables and
// logical decoding messages of their prefixes.
func Published(entities []Entity, txn *capture.Transaction) []PublishedEvent {
	var out []PublishedEvent
	for _, en := range entities {
		if en.Source != txn.Source {
			continue
		}
		add := func(ev fold.Event, err error) {
			if err == nil && en.Stream.AggregateType != "" && ev.AggregateType != en.Stream.AggregateType {
				return
			}
			pe := PublishedEvent{Kind: "published", Source: en.Source, Entity: en.Name, Type: ev.Type, ID: ev.ID,
				AggregateType: ev.AggregateType, AggregateID: ev.AggregateID, Timestamp: ev.Timestamp,
				CommitLSN: txn.CommitLSN, CommitTime: txn.CommitTime, Payload: json.RawMessage("null")}
			if err != nil {
				pe.Error = err.Error()
			} else if b, err := json.Marshal(ev.Payload); err == nil {
				pe.Payload = b
			}
			out = append(out, pe)
		}
		if ref, ok := en.Stream.EventTable(en.Source); ok {
			table := capture.Table{Schema: ref.Schema, Name: ref.Name}
			for i := range txn.Changes {
				ch := &txn.Changes[i]
				if ch.Table == table && (ch.Op == capture.Insert || ch.Op == capture.Read) {
					add(fold.RowEvent(en.Stream.Columns, ch.New))
				}
			}
			continue
		}
		for i := range txn.Messages {
			m := &txn.Messages[i]
			if m.Prefix == en.Stream.MessagePrefix && m.Transactional {
				add(fold.MessageEvent(en.Stream.Columns, m.Content))
			}
		}
	}
	return out
}
