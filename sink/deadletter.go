package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
	// be refused by the dead-letter index's own mapping. A source refused
	// for its size is cut to its first maxDeadLetterSource bytes, and
	// Truncated says so: kept whole it would be refused again.
	Document  string `json:"document,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
}

// maxDeadLetterSource is how much of a source too large for the engine a
// dead letter keeps; view and id lead to the row to repair it from.
const maxDeadLetterSource = 64 << 10

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
	if cause.Type == typeTooLarge && len(rec.Document) > maxDeadLetterSource {
		rec.Document, rec.Truncated = strings.ToValidUTF8(rec.Document[:maxDeadLetterSource], ""), true
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

// deadLetterMapping maps the fields of deadLetterRecord. The refused
// document is kept but not indexed, so no source can be refused by the
// dead-letter index itself; unknown fields are kept unindexed too.
func deadLetterMapping() map[string]any {
	keyword := map[string]any{"type": "keyword", "ignore_above": 1024}
	return map[string]any{
		"dynamic": "false",
		"properties": map[string]any{
			"time":     map[string]any{"type": "date"},
			"view":     keyword,
			"index":    keyword,
			"id":       keyword,
			"version":  map[string]any{"type": "long"},
			"position": keyword,
			"action":   keyword,
			"error": map[string]any{"properties": map[string]any{
				"type":      keyword,
				"reason":    map[string]any{"type": "text"},
				"caused_by": map[string]any{"type": "text"},
			}},
			"document":  map[string]any{"type": "text", "index": false},
			"truncated": map[string]any{"type": "boolean"},
		},
	}
}

// EnsureDeadLetterIndex creates the dead-letter index of the view behind
// alias, DeadLetterIndex(alias), with the view's shards and replicas
// unless it exists; left to the engine, it would be created on the first
// refusal with the engine's defaults (one replica, which a single-node
// cluster never allocates). An existing index is given the view's number
// of replicas, as earlier versions let the engine create it; its shards
// and mapping stay as they are.
func (c *Client) EnsureDeadLetterIndex(ctx context.Context, alias string, settings IndexSettings) error {
	index := DeadLetterIndex(alias)
	settings.RefreshInterval = ""
	created, err := c.createIndex(ctx, index, deadLetterMapping(), settings)
	if err != nil {
		return fmt.Errorf("create dead-letter index %s: %w", index, err)
	}
	if created {
		return nil
	}
	body, err := json.Marshal(map[string]any{"index": map[string]any{"number_of_replicas": settings.Replicas}})
	if err != nil {
		return fmt.Errorf("encode settings of dead-letter index %s: %w", index, err)
	}
	put := c.API.Indices.PutSettings
	res, err := put(bytes.NewReader(body), put.WithIndex(index), put.WithContext(ctx))
	if err := checkResponse(res, err); err != nil {
		return fmt.Errorf("set the replicas of dead-letter index %s: %w", index, err)
	}
	return nil
}
