// Package envelope writes captured changes in the event formats their
// consumers know: projector's own, Debezium's change event envelope and
// CloudEvents 1.0 in structured JSON mode. Each format is stable and
// described in docs/events.md.
//
// An Encoder turns one change of a capture.Transaction into one JSON
// object and keeps no state between changes, so `projector tail` and a
// publisher to a log such as Kafka write the same events. Row values are
// written by capture.AppendValue, exactly as documents in the index show
// them.
package envelope

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/projector-dev/projector/capture"
)

// Format names an event format.
type Format string

// The event formats.
const (
	// Projector is projector's own format: the change in the versioned
	// form of capture.Transaction, with its transaction's position and
	// time, its event type and the columns an update changed.
	Projector Format = "projector"
	// Debezium is Debezium's change event envelope (before, after,
	// source, op, ts_ms), as its JSON converter writes it without schemas.
	Debezium Format = "debezium"
	// CloudEvents is a CloudEvents 1.0 event in structured JSON mode.
	CloudEvents Format = "cloudevents"
)

// Formats lists the formats New accepts.
func Formats() []Format { return []Format{Projector, Debezium, CloudEvents} }

// ParseFormat reads a format's name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown event format %q; formats are %s", s, formatList())
}

func formatList() string {
	names := make([]string, 0, len(Formats()))
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// EventTypes renames event types per table ("schema.table") and then by
// verb: created, updated, deleted, truncated (config.Source's
// EventTypeNames).
type EventTypes map[string]map[string]string

// Options describe where the changes come from, which the formats name.
type Options struct {
	// Types renames the event types of tables (Projector's "type",
	// CloudEvents' "type").
	Types EventTypes
	// Database is the name of the source's database (Debezium's
	// source.db).
	Database string
	// Version is projector's version (Debezium's source.version).
	Version string
	// Now tells the time a change is written at (Debezium's ts_ms);
	// time.Now when nil.
	Now func() time.Time
}

// Encoder writes one change as one JSON object.
type Encoder interface {
	// Append appends change i of txn, in one line without a newline.
	Append(b []byte, txn *capture.Transaction, i int) ([]byte, error)
}

// New returns the encoder of format f.
func New(f Format, o Options) (Encoder, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	switch f {
	case Projector:
		return projectorEncoder{o}, nil
	case Debezium:
		return debeziumEncoder{o}, nil
	case CloudEvents:
		return cloudEventsEncoder{o}, nil
	}
	return nil, fmt.Errorf("unknown event format %q; formats are %s", f, formatList())
}

// Verb is the word an event type uses for op: created (for inserts and
// snapshot reads), updated, deleted or truncated.
func Verb(op capture.Op) string {
	switch op {
	case capture.Read, capture.Insert:
		return "created"
	case capture.Update:
		return "updated"
	case capture.Delete:
		return "deleted"
	case capture.Truncate:
		return "truncated"
	}
	return string(op)
}

// EventType names the event of op on table: the name types gives it, or
// "<table>.<verb>".
func EventType(table capture.Table, op capture.Op, types EventTypes) string {
	verb := Verb(op)
	if name := types[table.String()][verb]; name != "" {
		return name
	}
	return table.Name + "." + verb
}

// Changed lists, in name order, the columns an update changed as far as
// the change tells: a column whose old value is known (the key columns,
// every column under REPLICA IDENTITY FULL) counts only if its value
// differs; one whose old value the server did not send counts as
// changed. TOASTed columns the server did not resend are unchanged. It is
// nil for every other operation.
func Changed(c *capture.Change) []string {
	if c.Op != capture.Update {
		return nil
	}
	changed := []string{}
	var was, is []byte
	for col, v := range c.New {
		old, known := c.Old[col]
		if known {
			was, is = capture.AppendValue(was[:0], old), capture.AppendValue(is[:0], v)
			if bytes.Equal(was, is) {
				continue
			}
		}
		changed = append(changed, col)
	}
	slices.Sort(changed)
	return changed
}

// AppendKey appends the key of the row c changed as a JSON object of its
// key columns, in key order, with their values (from New, or Old for a
// delete): the message key a log keeps a row's changes in order by. It
// appends null for a truncate and for a table without a key.
func AppendKey(b []byte, c *capture.Change) []byte {
	if len(c.Key) == 0 || c.Op == capture.Truncate {
		return append(b, "null"...)
	}
	row := c.New
	if row == nil {
		row = c.Old
	}
	b = append(b, '{')
	for i, col := range c.Key {
		if i > 0 {
			b = append(b, ',')
		}
		b = capture.AppendValue(b, col)
		b = append(b, ':')
		b = capture.AppendValue(b, row[col])
	}
	return append(b, '}')
}

// ID identifies change i of txn among all changes of its source: the
// source, the commit LSN and the change's place in its transaction. The
// rows of a snapshot all share the slot's consistent point, so a
// snapshot row is identified by its table and key instead, which also
// gives a row copied again by a repeated snapshot the same id.
func ID(txn *capture.Transaction, i int) string {
	c := &txn.Changes[i]
	if txn.Snapshot && c.Op == capture.Read {
		return fmt.Sprintf("%s:%s:%s:%s", txn.Source, txn.CommitLSN, c.Table, AppendKey(nil, c))
	}
	return fmt.Sprintf("%s:%s:%d", txn.Source, txn.CommitLSN, i)
}
