package sink

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// bulkFilter trims the bulk answer to what the writer reads.
var bulkFilter = []string{
	"items.*.status", "items.*.error.type", "items.*.error.reason",
	"items.*.error.caused_by.type", "items.*.error.caused_by.reason",
	"items.*.forced_refresh",
}

type bulkResponse struct {
	Items []bulkItem `json:"items"`
}

// bulkItem holds the answer to one action under the action's name.
type bulkItem struct {
	Index  *itemResult `json:"index"`
	Delete *itemResult `json:"delete"`
	Create *itemResult `json:"create"`
	Update *itemResult `json:"update"`
}

func (b *bulkItem) result() itemResult {
	switch {
	case b.Index != nil:
		return *b.Index
	case b.Delete != nil:
		return *b.Delete
	case b.Create != nil:
		return *b.Create
	case b.Update != nil:
		return *b.Update
	}
	return itemResult{}
}

type itemResult struct {
	Status int        `json:"status"`
	Error  *itemError `json:"error"`
	// ForcedRefresh: the request asked for refresh=true and the engine
	// refreshed the document's shard after writing it.
	ForcedRefresh bool `json:"forced_refresh"`
}

// itemError is the engine's error for one action.
type itemError struct {
	Type     string     `json:"type"`
	Reason   string     `json:"reason"`
	CausedBy *itemError `json:"caused_by"`
}

func (e *itemError) String() string {
	s := e.Type + ": " + e.Reason
	if e.CausedBy != nil {
		s += " (caused by " + e.CausedBy.String() + ")"
	}
	return s
}

// parseBulk reads a 2xx bulk answer; its items pair up with the actions
// by position.
func parseBulk(body io.Reader, actions int) ([]itemResult, error) {
	var res bulkResponse
	if err := json.NewDecoder(body).Decode(&res); err != nil {
		return nil, fmt.Errorf("read bulk answer: %w", err)
	}
	if len(res.Items) != actions {
		return nil, fmt.Errorf("bulk answer has %d items for %d actions", len(res.Items), actions)
	}
	out := make([]itemResult, len(res.Items))
	for i := range res.Items {
		out[i] = res.Items[i].result()
	}
	return out, nil
}

// outcome is what one action's answer means for its document.
type outcome uint8

const (
	written   outcome = iota // indexed, or deleted (also when already gone)
	conflict                 // the engine holds this revision or a newer one
	retryable                // try again later
	rejected                 // the engine will never accept it: dead-letter it
)

// classify decides what an item's status means. Version conflicts are
// success: with external versions they only arise for a revision the index
// already has or has passed. cluster_block_exception is retried whatever
// its status, because an operator lifts a read-only block (a full disk,
// for example) without anything being wrong with the document.
func classify(r *itemResult, isDelete bool) outcome {
	switch {
	case r.Status >= 200 && r.Status < 300:
		return written
	case r.Status == http.StatusConflict:
		return conflict
	case r.Status == http.StatusNotFound && isDelete:
		return written
	case r.Status == http.StatusTooManyRequests, r.Status >= 500, r.Status == 0:
		return retryable
	case r.Error != nil && r.Error.Type == "cluster_block_exception":
		return retryable
	}
	return rejected
}
