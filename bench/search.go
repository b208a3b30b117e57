package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// searchClient speaks to the search engine with plain HTTP.
type searchClient struct {
	url  string
	http *http.Client
}

func newSearchClient(url string, conns int) *searchClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	return &searchClient{url: strings.TrimRight(url, "/"), http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// do sends a request and returns the body of a 2xx answer.
func (c *searchClient) do(ctx context.Context, method, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return out, fmt.Errorf("%s %s: %s: %.300s", method, path, res.Status, out)
	}
	return out, nil
}

func (c *searchClient) json(ctx context.Context, method, path string, body, into any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	out, err := c.do(ctx, method, path, "application/json", b)
	if err != nil {
		return err
	}
	if into == nil {
		return nil
	}
	if err := json.Unmarshal(out, into); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// count refreshes index and counts its documents.
func (c *searchClient) count(ctx context.Context, index string) (int, error) {
	if err := c.json(ctx, http.MethodPost, "/"+index+"/_refresh", nil, nil); err != nil {
		return 0, err
	}
	var res struct{ Count int }
	err := c.json(ctx, http.MethodGet, "/"+index+"/_count", nil, &res)
	return res.Count, err
}

// deletePrefix deletes every index whose name starts with prefix, by name:
// wildcard deletes may be refused.
func (c *searchClient) deletePrefix(ctx context.Context, prefix string) error {
	var rows []struct{ Index string }
	if err := c.json(ctx, http.MethodGet, "/_cat/indices/"+prefix+"*?format=json&h=index&expand_wildcards=all", nil, &rows); err != nil {
		return fmt.Errorf("list indices %s*: %w", prefix, err)
	}
	for _, r := range rows {
		if err := c.json(ctx, http.MethodDelete, "/"+r.Index, nil, nil); err != nil {
			return fmt.Errorf("delete index %s: %w", r.Index, err)
		}
	}
	return nil
}

// version returns the engine's distribution and version number.
func (c *searchClient) version(ctx context.Context) (string, error) {
	var res struct {
		Version struct {
			Distribution string
			Number       string
		}
	}
	if err := c.json(ctx, http.MethodGet, "/", nil, &res); err != nil {
		return "", err
	}
	dist := res.Version.Distribution
	if dist == "" {
		dist = "elasticsearch"
	}
	return dist + " " + res.Version.Number, nil
}
