package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// transientError is a whole-request failure worth retrying: the engine is
// unreachable, overloaded or failing, none of which says anything about
// the documents.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// errTooLarge is a 413 for a whole request; the batch is split.
var errTooLarge = errors.New("the bulk request is larger than the engine accepts (413)")

// isTransient reports whether a request error is worth retrying.
func isTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// sendBulk posts an encoded body of n actions and returns one result per
// action. Errors are transientError, errTooLarge or fatal.
func (w *Writer) sendBulk(ctx context.Context, body []byte, n int) ([]itemResult, error) {
	api := w.client.API
	start := time.Now()
	res, err := api.Bulk(bytes.NewReader(body), api.Bulk.WithContext(ctx), api.Bulk.WithFilterPath(bulkFilter...))
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
	snippet, _ := io.ReadAll(io.LimitReader(body, 512))
	err := fmt.Errorf("bulk request: %d %s: %s", status, http.StatusText(status), bytes.TrimSpace(snippet))
	switch {
	case status == http.StatusRequestEntityTooLarge:
		return errTooLarge
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		return &transientError{err}
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return fmt.Errorf("%w (check the search engine credentials and their privileges on the indices)", err)
	}
	return err
}
