package fold

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// RowEvent reads an event from an event table's row.
func RowEvent(cols config.EventColumns, row capture.Row) (Event, error) {
	get := func(col string) any { return row[col] }
	return event(cols, get)
}

// MessageEvent reads an event from a logical decoding message's JSON
// object.
func MessageEvent(cols config.EventColumns, content []byte) (Event, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(content, &obj); err != nil {
		return Event{}, fmt.Errorf("message content is not a JSON object: %w", err)
	}
	get := func(key string) any {
		v, ok := obj[key]
		if !ok {
			return nil
		}
		return json.RawMessage(v)
	}
	return event(cols, get)
}

// RowAggregateID is the aggregate id of the event in an event table's
// row, as RowEvent reads it, without reading the rest of the event; false
// when the row has none.
func RowAggregateID(cols config.EventColumns, row capture.Row) (string, bool) {
	if cols.AggregateID == "" {
		return "", false
	}
	return textValue(row[cols.AggregateID])
}

func event(cols config.EventColumns, get func(string) any) (Event, error) {
	var ev Event
	var err error
	text := func(col string, required bool) string {
		if col == "" || err != nil {
			return ""
		}
		s, ok := textValue(get(col))
		if !ok && required {
			err = fmt.Errorf("the event has no %s (column or key %q)", col, col)
		}
		return s
	}
	ev.ID = text(cols.ID, false)
	ev.Type = text(cols.Type, true)
	ev.AggregateType = text(cols.AggregateType, false)
	ev.AggregateID = text(cols.AggregateID, true)
	ev.Timestamp = text(cols.Timestamp, false)
	if err != nil {
		return ev, err
	}
	ev.Payload, err = payloadValue(get(cols.Payload))
	if err != nil {
		return ev, fmt.Errorf("payload (%s): %w", cols.Payload, err)
	}
	return ev, nil
}

// textValue renders an identifying value as text: strings as they are,
// numbers and other scalars in their JSON form.
func textValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case json.RawMessage:
		var s string
		if json.Unmarshal(x, &s) == nil {
			return s, true
		}
		if string(x) == "null" {
			return "", false
		}
		return string(x), true
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), true
	default:
		return strings.Trim(string(capture.AppendValue(nil, v)), `"`), true
	}
}

// payloadValue decodes a payload held as json, jsonb, text or bytea.
func payloadValue(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		var s string
		if quoted(x) && json.Unmarshal(x, &s) == nil && len(s) > 0 && (s[0] == '{' || s[0] == '[') {
			return Decode([]byte(s)) // a text column holding JSON
		}
		return Decode(x)
	case string:
		return Decode([]byte(x))
	case []byte:
		return Decode(x)
	default:
		return nil, fmt.Errorf("is %T, not JSON", v)
	}
}

// quoted reports whether a JSON value is a string: only then can it be a
// text column holding JSON, and an object payload is not scanned twice.
func quoted(x json.RawMessage) bool {
	trimmed := bytes.TrimLeft(x, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '"'
}
