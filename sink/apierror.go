package sink

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// apiError is a non-2xx answer of the engine, by its error type and
// reason when the answer has them.
type apiError struct {
	status int
	typ    string
	reason string
}

func (e *apiError) Error() string {
	if e.typ == "" {
		return fmt.Sprintf("search engine answered %d: %s", e.status, e.reason)
	}
	return fmt.Sprintf("search engine answered %d: %s: %s", e.status, e.typ, e.reason)
}

// readAPIError turns a failed answer into an apiError; the body is read
// but not closed.
func readAPIError(res *esapi.Response) error {
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("search engine answered %d; reading the answer failed: %w", res.StatusCode, err)
	}
	var parsed struct {
		Error json.RawMessage `json:"error"`
	}
	var detail struct{ Type, Reason string }
	e := &apiError{status: res.StatusCode, reason: string(body)}
	if json.Unmarshal(body, &parsed) == nil && json.Unmarshal(parsed.Error, &detail) == nil && detail.Type != "" {
		e.typ, e.reason = detail.Type, detail.Reason
	}
	return e
}
