package state

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/projector-dev/projector/capture"
)

// The event log keeps every published domain event an entity folded, so
// that a changed reducer can fold the entity again from all its events,
// including those sent as logical decoding messages and those an outbox
// deleted right after inserting them. Its keys, in space spaceEventLog,
// start with the source and the entity, 0x00-separated, then one of:
//
//	'l' aggregate 0x00 lsn(8) index(4)  an event, value eventLogFormat
//	'i' event id                        the event id is logged (tables only; see IndexEventID)
//	'm'                                 the log is complete, value {eventLogFormat}
//	'r'                                 the last refold's token (SetRefoldMark)
//
// The aggregate id is written with 0x00 and 0x01 escaped (escapeAggregate),
// so each aggregate's events are one contiguous run of keys in position
// order: the order they were folded in. The same event sent again (after a
// restart) has the same position, hence the same key, and is written once.
const spaceEventLog = "e"

// eventLogFormat is the version of the log's stored form, the first byte
// of every event's value and the value of the completeness mark. Version 1
// is: format, kind, uvarint length of the type, the type, then the event
// as received (a message's content, an event row's columns as JSON).
const eventLogFormat = 1

// Kinds of logged events: how Raw is to be read.
const (
	// EventRow is an event table's row, its columns as a JSON object.
	EventRow byte = 'r'
	// EventMessage is a logical decoding message's content.
	EventMessage byte = 'm'
)

// LoggedEvent is one event of an entity's log.
type LoggedEvent struct {
	// Aggregate is the id of the aggregate the event is about.
	Aggregate string
	// LSN and Index are the event's position: the end of the transaction
	// that committed it and its place in that transaction.
	LSN   capture.LSN
	Index uint32
	// Kind says how Raw is read: EventRow or EventMessage.
	Kind byte
	// Type is the event's type, kept for diagnostics.
	Type string
	// ID is the event's id; it is indexed when set, so that a fresh copy
	// of the event table can skip the events the log holds (LoggedID).
	// Only a copy of the event table asks, so a streamed event need not
	// be indexed when it is logged, as long as every logged event is
	// indexed (IndexEventID) before the next copy of the table begins.
	ID string
	// Raw is the event as received. When read back from the store it is
	// valid until the next event is read.
	Raw []byte
}

// appendEventLogPrefix appends the start of every key of an entity's log.
func appendEventLogPrefix(b []byte, source, entity string) []byte {
	b = append(b, spaceEventLog...)
	b = append(append(b, 0), source...)
	return append(append(append(b, 0), entity...), 0)
}

// escapeAggregate appends an aggregate id with 0x00 written as 0x01 0x01
// and 0x01 as 0x01 0x02, so that the 0x00 after it ends it.
func escapeAggregate(b []byte, id string) []byte {
	for i := 0; i < len(id); i++ {
		switch c := id[i]; c {
		case 0, 1:
			b = append(b, 1, c+1)
		default:
			b = append(b, c)
		}
	}
	return b
}

// unescapeAggregate reads an escaped aggregate id up to the 0x00 that
// ends it, returning the id and what follows the 0x00.
func unescapeAggregate(b []byte) (string, []byte, bool) {
	var out []byte
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case 0:
			if out == nil {
				return string(b[:i]), b[i+1:], true
			}
			return string(out), b[i+1:], true
		case 1:
			if i+1 == len(b) || b[i+1] < 1 || b[i+1] > 2 {
				return "", nil, false
			}
			if out == nil {
				out = append([]byte(nil), b[:i]...)
			}
			out = append(out, b[i+1]-1)
			i++
		default:
			if out != nil {
				out = append(out, b[i])
			}
		}
	}
	return "", nil, false
}

// AppendEvent adds an event to its entity's log, and indexes its id when
// it has one.
func (b *Batch) AppendEvent(source, entity string, ev *LoggedEvent) error {
	k := appendEventLogPrefix(b.key[:0], source, entity)
	k = append(escapeAggregate(append(k, 'l'), ev.Aggregate), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(ev.LSN))
	k = binary.BigEndian.AppendUint32(k, ev.Index)
	b.key = k
	v := append(b.val[:0], eventLogFormat, ev.Kind)
	v = binary.AppendUvarint(v, uint64(len(ev.Type)))
	v = append(append(v, ev.Type...), ev.Raw...)
	b.val = v
	if err := b.b.Set(k, v, nil); err != nil {
		return fmt.Errorf("log event of entity %s: %w", entity, err)
	}
	if ev.ID == "" {
		return nil
	}
	return b.IndexEventID(source, entity, ev.ID)
}

// IndexEventID records that the entity's log holds the event with this
// id, so that LoggedID finds it.
func (b *Batch) IndexEventID(source, entity, id string) error {
	b.key = append(append(appendEventLogPrefix(b.key[:0], source, entity), 'i'), id...)
	if err := b.b.Set(b.key, nil, nil); err != nil {
		return fmt.Errorf("log event id of entity %s: %w", entity, err)
	}
	return nil
}

// LoggedID reports whether the entity's log holds the event with this id.
func (b *Batch) LoggedID(source, entity, id string) (bool, error) {
	if err := b.direct(); err != nil {
		return false, err
	}
	b.key = append(append(appendEventLogPrefix(b.key[:0], source, entity), 'i'), id...)
	_, ok, err := get(b.b, b.key)
	if err != nil {
		return false, fmt.Errorf("look up event %s of entity %s: %w", id, entity, err)
	}
	return ok, nil
}

// EventLogComplete reports whether the entity's log holds every event
// folded into the entity since its source's state began: only then can
// the entity be folded again from the log alone.
func (b *Batch) EventLogComplete(source, entity string) (bool, error) {
	if err := b.direct(); err != nil {
		return false, err
	}
	v, ok, err := get(b.b, append(appendEventLogPrefix(nil, source, entity), 'm'))
	if err != nil {
		return false, fmt.Errorf("read event log mark of entity %s: %w", entity, err)
	}
	if ok && (len(v) != 1 || v[0] != eventLogFormat) {
		return false, corruptState("event log mark of entity %s of source %s has unknown form %x", entity, source, v)
	}
	return ok, nil
}

// StartEventLog forgets the entity's log and, with complete, marks the
// empty log as complete: the entity is folded from nothing from now on,
// and every event it folds is logged.
func (b *Batch) StartEventLog(source, entity string, complete bool) error {
	if err := b.direct(); err != nil {
		return err
	}
	prefix := appendEventLogPrefix(nil, source, entity)
	if err := b.b.DeleteRange(prefix, prefixEnd(prefix), nil); err != nil {
		return fmt.Errorf("forget event log of entity %s: %w", entity, err)
	}
	if !complete {
		return nil
	}
	if err := b.b.Set(append(prefix, 'm'), []byte{eventLogFormat}, nil); err != nil {
		return fmt.Errorf("mark event log of entity %s: %w", entity, err)
	}
	return nil
}

// RefoldMark is the token SetRefoldMark last recorded for the entity, or
// "" when the entity was not folded again from its log since its log
// started.
func (b *Batch) RefoldMark(source, entity string) (string, error) {
	if err := b.direct(); err != nil {
		return "", err
	}
	v, _, err := get(b.b, append(appendEventLogPrefix(nil, source, entity), 'r'))
	if err != nil {
		return "", fmt.Errorf("read refold mark of entity %s: %w", entity, err)
	}
	return string(v), nil
}

// SetRefoldMark records, in the batch that folds the entity again from its
// log, what it was folded again for: committed with the refold, the mark
// says the refold is done, so a restart neither repeats it nor loses it.
func (b *Batch) SetRefoldMark(source, entity, token string) error {
	if err := b.direct(); err != nil {
		return err
	}
	if err := b.b.Set(append(appendEventLogPrefix(nil, source, entity), 'r'), []byte(token), nil); err != nil {
		return fmt.Errorf("mark refold of entity %s: %w", entity, err)
	}
	return nil
}

// ScanEventLog calls fn with every event of the entity's log, aggregate by
// aggregate, each aggregate's events in the order they were folded. The
// event and its Raw are valid during the call only; fn may write to the
// batch, and does not see the events it logs.
func (b *Batch) ScanEventLog(source, entity string, fn func(ev *LoggedEvent) error) error {
	if err := b.direct(); err != nil {
		return err
	}
	prefix := append(appendEventLogPrefix(nil, source, entity), 'l')
	it, err := b.b.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("read event log of entity %s: %w", entity, err)
	}
	var ev LoggedEvent
	var last []byte // the escaped aggregate of the previous event
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(prefix):]
		if len(k) < 13 || !bytes.Equal(last, k[:len(k)-12]) {
			agg, rest, ok := unescapeAggregate(k)
			if !ok || len(rest) != 12 {
				it.Close() //nolint:errcheck // the key's error is the one to report
				return corruptState("event log key %q of entity %s holds no aggregate and position", it.Key(), entity)
			}
			ev.Aggregate = agg
			last = append(last[:0], k[:len(k)-12]...)
		}
		pos := k[len(k)-12:]
		ev.LSN = capture.LSN(binary.BigEndian.Uint64(pos))
		ev.Index = binary.BigEndian.Uint32(pos[8:])
		if err := decodeLoggedEvent(it.Value(), &ev); err != nil {
			it.Close() //nolint:errcheck // the value's error is the one to report
			return corruptState("event log of entity %s at %s#%d: %v", entity, ev.LSN, ev.Index, err)
		}
		if err := fn(&ev); err != nil {
			it.Close() //nolint:errcheck // fn's error is the one to report
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("read event log of entity %s: %w", entity, err)
	}
	return nil
}

// decodeLoggedEvent reads an event's value into ev.
func decodeLoggedEvent(v []byte, ev *LoggedEvent) error {
	if len(v) < 3 || v[0] != eventLogFormat {
		return fmt.Errorf("value of unknown form %q", v)
	}
	ev.Kind = v[1]
	n, size := binary.Uvarint(v[2:])
	if size <= 0 || uint64(len(v)-2-size) < n {
		return fmt.Errorf("value %q has no event type", v)
	}
	start := 2 + size
	ev.Type = string(v[start : start+int(n)])
	ev.Raw = v[start+int(n):]
	ev.ID = ""
	return nil
}
