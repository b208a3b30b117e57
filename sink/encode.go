package sink

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// errBadSource marks a source that cannot be framed as one NDJSON line;
// sending it would make the engine reject the whole bulk request.
var errBadSource = errors.New("the document source is not valid JSON")

// encoder writes bulk request bodies into one buffer that is reused from
// request to request. Sources are already JSON, so only the small action
// lines are built, by appending bytes rather than marshalling maps.
type encoder struct {
	buf bytes.Buffer
}

// reset empties the buffer and keeps its memory.
func (e *encoder) reset() { e.buf.Reset() }

// bytes is the body encoded so far; it is valid until the next reset.
func (e *encoder) bytes() []byte { return e.buf.Bytes() }

// add appends one action, and for an index action its source. When the
// source cannot be framed nothing is appended and errBadSource returned.
// Versioned actions carry version_type external; unversioned ones (dead
// letters) simply overwrite.
func (e *encoder) add(d *Document, versioned bool) error {
	if !d.isDelete() && !sourceFits(d.Source) {
		if err := checkCompactable(d.Source); err != nil {
			return err
		}
	}
	b := e.buf.AvailableBuffer()
	if d.isDelete() {
		b = append(b, `{"delete":{"_index":`...)
	} else {
		b = append(b, `{"index":{"_index":`...)
	}
	b = appendString(b, d.Index)
	b = append(b, `,"_id":`...)
	b = appendString(b, d.ID)
	if versioned {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, d.Version, 10)
		b = append(b, `,"version_type":"external"`...)
	}
	b = append(b, "}}\n"...)
	e.buf.Write(b)
	if d.isDelete() {
		return nil
	}
	if sourceFits(d.Source) {
		e.buf.Write(d.Source)
	} else {
		_ = json.Compact(&e.buf, d.Source) // checked by checkCompactable
	}
	e.buf.WriteByte('\n')
	return nil
}

// sourceFits reports whether a source can be sent as it is: a non-empty
// line. Anything else is compacted first, which also validates it.
func sourceFits(src []byte) bool {
	return len(src) > 0 && bytes.IndexByte(src, '\n') < 0
}

// checkCompactable checks, before anything is appended, that a
// multi-line source compacts to one line.
func checkCompactable(src []byte) error {
	if len(bytes.TrimSpace(src)) == 0 || !json.Valid(src) {
		return errBadSource
	}
	return nil
}

// appendString appends s as a JSON string. Ids are usually plain; those
// that need escaping take encoding/json's path.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			quoted, _ := json.Marshal(s) // a string always marshals
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
