package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Search is a unique index-name prefix on the local search engine for one
// test. Every index whose name starts with the prefix is deleted when the
// test ends.
type Search struct {
	URL    string
	Prefix string
	t      testing.TB
}

// NewSearch checks that the search engine answers and reserves a prefix.
func NewSearch(t testing.TB) *Search {
	t.Helper()
	return NewSearchAt(t, envOr(EnvSearch, defaultURL))
}

// NewSearchAt is NewSearch for the search engine at url, such as an
// Elasticsearch node beside the default engine or an in-memory fake.
func NewSearchAt(t testing.TB, url string) *Search {
	t.Helper()
	s := &Search{URL: url, Prefix: UniqueName("t_") + "_", t: t}
	if _, err := s.do(http.MethodGet, "/", nil); err != nil {
		unavailable(t, "the search engine at "+s.URL, err)
	}
	t.Cleanup(s.cleanup)
	return s
}

// Index returns name with the test's prefix.
func (s *Search) Index(name string) string { return s.Prefix + name }

// Refresh makes every write to the test's indices visible to search.
func (s *Search) Refresh() {
	s.t.Helper()
	if _, err := s.do(http.MethodPost, "/"+s.Prefix+"*/_refresh", nil); err != nil {
		s.t.Fatalf("refresh %s*: %v", s.Prefix, err)
	}
}

// Do sends a request to the search engine and returns the body of a 2xx
// answer; any other status is an error that quotes the answer.
func (s *Search) Do(method, path string, body io.Reader) ([]byte, error) {
	return s.do(method, path, body)
}

func (s *Search) do(method, path string, body io.Reader) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return out, fmt.Errorf("%s %s: %s: %s", method, path, res.Status, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// cleanup deletes the test's indices by name: wildcard deletes are refused
// by engines that require explicit names for destructive actions.
func (s *Search) cleanup() {
	out, err := s.do(http.MethodGet, "/_cat/indices/"+s.Prefix+"*?format=json&h=index&expand_wildcards=all", nil)
	if err != nil {
		s.t.Errorf("list test indices: %v", err)
		return
	}
	var rows []struct{ Index string }
	if err := json.Unmarshal(out, &rows); err != nil {
		s.t.Errorf("list test indices: %v", err)
		return
	}
	for _, r := range rows {
		if _, err := s.do(http.MethodDelete, "/"+r.Index, nil); err != nil {
			s.t.Errorf("delete test index %s: %v", r.Index, err)
		}
	}
}
