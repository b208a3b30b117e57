package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/projector-dev/projector/sink"
)

// errNoIndex says that no index or alias of the view's name exists.
var errNoIndex = errors.New("no such index or alias")

// pageSize is how many documents one scroll page or id lookup carries.
const pageSize = 1000

type hit struct {
	ID     string          `json:"_id"`
	Source json.RawMessage `json:"_source"`
	// Version is the document's _version: for documents projector wrote,
	// the external version it assigned.
	Version int64 `json:"_version"`
}

type searchResponse struct {
	ScrollID string `json:"_scroll_id"`
	Hits     struct {
		Total json.RawMessage `json:"total"`
		Hits  []hit           `json:"hits"`
	} `json:"hits"`
}

// total reads hits.total in either of its forms: an object with a value
// (Elasticsearch 7+, OpenSearch) or a bare number.
func (r *searchResponse) total() int64 {
	var obj struct {
		Value int64 `json:"value"`
	}
	if json.Unmarshal(r.Hits.Total, &obj) == nil && obj.Value > 0 {
		return obj.Value
	}
	var n int64
	_ = json.Unmarshal(r.Hits.Total, &n) // absent or malformed: progress has no total
	return n
}

// scanIndex reads every document behind alias with a scroll sorted by
// _doc, which Elasticsearch 8 and OpenSearch 2 both serve (unlike a sort on
// _id or point-in-time, whose APIs differ). source is the search's _source
// option: true for whole documents, or a JSON list of fields. A missing
// alias is errNoIndex.
func scanIndex(ctx context.Context, c *sink.Client, alias, source string, fn func(h hit, total int64) error) (err error) {
	res, err := c.API.Search(c.API.Search.WithContext(ctx), c.API.Search.WithIndex(alias),
		c.API.Search.WithScroll(2*time.Minute), c.API.Search.WithSize(pageSize),
		c.API.Search.WithTrackTotalHits(true), c.API.Search.WithVersion(true),
		c.API.Search.WithBody(strings.NewReader(`{"sort":["_doc"],"_source":`+source+`}`)))
	page, err := decodeSearch(res, err, "scroll "+alias)
	if err != nil {
		return err
	}
	if page == nil {
		return errNoIndex
	}
	defer func() {
		if page.ScrollID != "" {
			clearScroll(c, page.ScrollID)
		}
	}()
	total := page.total()
	for len(page.Hits.Hits) > 0 {
		for _, h := range page.Hits.Hits {
			if err := fn(h, total); err != nil {
				return err
			}
		}
		id := page.ScrollID
		res, err := c.API.Scroll(c.API.Scroll.WithContext(ctx), c.API.Scroll.WithScrollID(id),
			c.API.Scroll.WithScroll(2*time.Minute))
		next, err := decodeSearch(res, err, "scroll "+alias)
		if err != nil {
			return err
		}
		if next == nil {
			return fmt.Errorf("scroll %s: the scroll expired", alias)
		}
		page = next
	}
	return nil
}

// clearScroll frees the scroll's server-side context; it expires by itself
// if this fails, so the error is not worth more than being ignored.
func clearScroll(c *sink.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.API.ClearScroll(c.API.ClearScroll.WithContext(ctx), c.API.ClearScroll.WithScrollID(id))
	if err == nil {
		drain(res)
	}
}

// fetchIDs reads the documents with the given ids, those that exist, with
// their versions. A missing alias is no documents.
func fetchIDs(ctx context.Context, c *sink.Client, alias string, ids []string) (map[string]hit, error) {
	out := make(map[string]hit, len(ids))
	for start := 0; start < len(ids); start += pageSize {
		chunk := ids[start:min(start+pageSize, len(ids))]
		body, err := json.Marshal(map[string]any{
			"size": len(chunk), "query": map[string]any{"ids": map[string]any{"values": chunk}},
		})
		if err != nil {
			return nil, err
		}
		res, err := c.API.Search(c.API.Search.WithContext(ctx), c.API.Search.WithIndex(alias),
			c.API.Search.WithVersion(true), c.API.Search.WithBody(strings.NewReader(string(body))))
		page, err := decodeSearch(res, err, "read documents of "+alias)
		if err != nil {
			return nil, err
		}
		if page == nil {
			return out, nil
		}
		for _, h := range page.Hits.Hits {
			out[h.ID] = h
		}
	}
	return out, nil
}

// countIndex says how many documents are behind alias; a missing alias is
// errNoIndex.
func countIndex(ctx context.Context, c *sink.Client, alias string) (int64, error) {
	res, err := c.API.Count(c.API.Count.WithContext(ctx), c.API.Count.WithIndex(alias))
	if err != nil {
		return 0, fmt.Errorf("count documents of %s: %w", alias, err)
	}
	defer drain(res)
	if res.StatusCode == http.StatusNotFound {
		return 0, errNoIndex
	}
	if res.IsError() {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
		return 0, fmt.Errorf("count documents of %s: %s: %s", alias, res.Status(), msg)
	}
	var body struct {
		Count int64 `json:"count"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("count documents of %s: decode answer: %w", alias, err)
	}
	return body.Count, nil
}

// refresh makes every acknowledged write behind alias visible to search.
func refresh(ctx context.Context, c *sink.Client, alias string) error {
	res, err := c.API.Indices.Refresh(c.API.Indices.Refresh.WithContext(ctx), c.API.Indices.Refresh.WithIndex(alias))
	if err != nil {
		return fmt.Errorf("refresh %s: %w", alias, err)
	}
	defer drain(res)
	if res.IsError() && res.StatusCode != http.StatusNotFound {
		return fmt.Errorf("refresh %s: %s", alias, res.Status())
	}
	return nil
}

// decodeSearch checks and decodes a search or scroll answer; a 404 (no such
// index or scroll) yields nil without error.
func decodeSearch(res *esapi.Response, err error, what string) (*searchResponse, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer drain(res)
	if res.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if res.IsError() {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
		return nil, fmt.Errorf("%s: %s: %s", what, res.Status(), msg)
	}
	var page searchResponse
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
		return nil, fmt.Errorf("%s: decode answer: %w", what, err)
	}
	return &page, nil
}

func drain(res *esapi.Response) {
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
}
