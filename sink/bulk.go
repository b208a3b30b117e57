package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// transientError is a whole-request failure worth retrying: the engine is
// unreachable, overloaded or failing, none of which says anything about
// the documents.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// refusedError is a whole request the engine refuses because of what it
// carries: 400 (such as action_request_validation_exception for an id
// over the engine's limit) or 413 (too large). Sending it again cannot
// help; the batch is split until the documents it is about are isolated,
// and those are dead-lettered.
type refusedError struct {
	status int
	cause  *itemError
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("bulk request refused with %d %s: %s", e.status, http.StatusText(e.status), e.cause)
}

// refusedRequest reads the engine's reason for refusing a whole request.
func refusedRequest(status int, body []byte) *refusedError {
	var parsed struct {
		Error json.RawMessage `json:"error"`
	}
	cause := &itemError{Type: fmt.Sprintf("status_%d", status), Reason: http.StatusText(status)}
	if status == http.StatusRequestEntityTooLarge {
		cause = &itemError{Type: typeTooLarge, Reason: "the bulk request with this document alone is larger than the engine accepts (413)"}
	}
	if json.Unmarshal(body, &parsed) == nil && len(parsed.Error) > 0 {
		var detail itemError
		switch {
		case json.Unmarshal(parsed.Error, &detail) == nil && detail.Type != "":
			cause = &detail
		default:
			var reason string
			if json.Unmarshal(parsed.Error, &reason) == nil && reason != "" {
				cause.Reason = reason
			}
		}
	}
	return &refusedError{status: status, cause: cause}
}

// typeTooLarge is the error type of a dead letter whose document alone
// makes a bulk request larger than the engine accepts.
const typeTooLarge = "request_entity_too_large"

// isTransient reports whether a request error is worth retrying.
func isTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// sendBulk posts an encoded body of n actions and returns one result per
// action. Errors are transientError, refusedError or fatal. With refresh
// the engine refreshes the shards the request wrote before it answers
// (RefreshWithNext).
func (w *Writer) sendBulk(ctx context.Context, body []byte, n int, refresh bool) ([]itemResult, error) {
	api := w.client.API
	start := time.Now()
	opts := []func(*esapi.BulkRequest){api.Bulk.WithContext(ctx), api.Bulk.WithFilterPath(bulkFilter...)}
	if refresh {
		opts = append(opts, api.Bulk.WithRefresh("true"))
	}
	res, err := api.Bulk(bytes.NewReader(body), opts...)
	w.metrics.bulkDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, &transientError{fmt.Errorf("send bulk request: %w", err)}
	}
	defer res.Body.Close()
	if err := requestStatus(res.StatusCode, res.Body); err != nil {
		return nil, err
	}
	results, err := parseBulk(res.Body, n)
	if err != nil {
		// A cut-off answer is a network failure; writes are versioned,
		// so sending the batch again is safe.
		return nil, &transientError{err}
	}
	return results, nil
}

// requestStatus is the one place that decides what a whole-request status
// means.
func requestStatus(status int, body io.Reader) error {
	if status >= 200 && status < 300 {
		return nil
	}
	answer, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	snippet := bytes.TrimSpace(answer[:min(len(answer), 512)])
	err := fmt.Errorf("bulk request: %d %s: %s", status, http.StatusText(status), snippet)
	switch {
	case status == http.StatusBadRequest, status == http.StatusRequestEntityTooLarge:
		return refusedRequest(status, answer)
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		return &transientError{err}
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return fmt.Errorf("%w (check the search engine credentials and their privileges on the indices)", err)
	}
	return err
}
