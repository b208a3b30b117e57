package sink

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// DeadLetterIndex names the index that keeps the documents of a view that
// the engine refused, so they can be inspected and replayed after the
// mapping or the data is fixed.
func DeadLetterIndex(view string) string { return view + "-deadletter" }

// deadLetterRecord is what a dead-letter index holds for one refused
// document revision.
type deadLetterRecord struct {
	Time     time.Time       `json:"time"`
	View     string          `json:"view"`
	Index    string          `json:"index"`
	ID       string          `json:"id"`
	Version  int64           `json:"version"`
	Position string          `json:"position,omitempty"`
	Action   string          `json:"action"`
	Error    deadLetterError `json:"error"`
	// Document is the refused source as a string: as an object it could
	// be refused by the dead-letter index's own mapping.
	Document string `json:"document,omitempty"`
}

type deadLetterError struct {
	Type     string `json:"type"`
	Reason   string `json:"reason"`
	CausedBy string `json:"caused_by,omitempty"`
}

// deadLetter builds the dead-letter document for a refused revision. Its
// id is derived from the revision, so writing it again after a retry
// overwrites the same dead letter instead of adding another.
func deadLetter(d *Document, cause *itemError, now time.Time) (Document, error) {
	rec := deadLetterRecord{
		Time: now.UTC(), View: d.viewLabel(), Index: d.Index, ID: d.ID, Version: d.Version,
		Position: d.Position, Action: "index", Document: string(d.Source),
		Error: deadLetterError{Type: cause.Type, Reason: cause.Reason},
	}
	if d.isDelete() {
		rec.Action = "delete"
	}
	if cause.CausedBy != nil {
		rec.Error.CausedBy = cause.CausedBy.String()
	}
	src, err := json.Marshal(rec)
	if err != nil {
		return Document{}, fmt.Errorf("encode dead letter for %s/%s: %w", d.Index, d.ID, err)
	}
	sum := sha256.Sum256([]byte(d.Index + "\x00" + d.ID + "\x00" + strconv.FormatInt(d.Version, 10)))
	return Document{
		Index: d.deadLetterIndex(), ID: hex.EncodeToString(sum[:20]),
		Source: src, View: d.View, Position: d.Position,
	}, nil
}
