package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/searchfake"
	"github.com/projector-dev/projector/internal/testbed"
)

// The sink conformance suite: the behaviours of the search engine that
// the sink relies on, written once and run against every engine the sink
// is tested with: the OpenSearch node of the test bed, an Elasticsearch 8
// node (make test-es8), and the in-memory fake (internal/searchfake) in
// both of its flavours. Because the fake passes the same suite as the real
// engines, the unit tests that use it test against the engines' behaviour,
// not against a guess: where the fake and an engine differ, fix the fake.
//
// Run it with `go test -run Conformance ./sink/`.

func TestConformanceFakeOpenSearch(t *testing.T) {
	runConformance(t, fakeSearch(t, searchfake.OpenSearch), OpenSearch)
}

func TestConformanceFakeElasticsearch(t *testing.T) {
	runConformance(t, fakeSearch(t, searchfake.Elasticsearch), Elasticsearch)
}

// TestConformanceOpenSearch runs the suite on the test bed's engine,
// OpenSearch unless PROJECTOR_TEST_SEARCH points elsewhere.
func TestConformanceOpenSearch(t *testing.T) {
	runConformance(t, testbed.NewSearch(t), "")
}

// TestConformanceElasticsearch8 runs the suite on the Elasticsearch 8 node
// named by PROJECTOR_TEST_ES8 (make test-es8).
func TestConformanceElasticsearch8(t *testing.T) {
	runConformance(t, testbed.NewElasticsearch8(t), Elasticsearch)
}

// fakeSearch serves a fresh fake engine for one test.
func fakeSearch(t *testing.T, flavour searchfake.Flavour) *testbed.Search {
	t.Helper()
	srv := httptest.NewServer(searchfake.New(flavour))
	t.Cleanup(srv.Close)
	return testbed.NewSearchAt(t, srv.URL)
}

// runConformance runs every behaviour against the engine behind search;
// want is the flavour Connect must detect, or empty to accept either.
func runConformance(t *testing.T, search *testbed.Search, want Flavour) {
	c := connect(t, search.URL)
	t.Logf("engine: %s %s at %s", c.Flavour, c.Version, search.URL)
	t.Run("Root", func(t *testing.T) {
		if want != "" && c.Flavour != want {
			t.Errorf("Connect detected %q, want %q", c.Flavour, want)
		}
		major := strings.SplitN(c.Version, ".", 2)[0]
		if n, err := strconv.Atoi(major); err != nil || n < 2 {
			t.Errorf("version %q is not a release number", c.Version)
		}
		if c.Flavour == Elasticsearch && n(major) < 8 {
			t.Errorf("Elasticsearch %s: projector supports 8 and later", c.Version)
		}
	})
	t.Run("IndexWithMappingAliasAndMeta", func(t *testing.T) { conformIndex(t, search, c) })
	t.Run("AliasSwap", func(t *testing.T) { conformAliasSwap(t, search, c) })
	t.Run("ExternalVersions", func(t *testing.T) { conformExternalVersions(t, search, c) })
	t.Run("RefreshAndCount", func(t *testing.T) { conformRefreshAndCount(t, search, c) })
	t.Run("MappingErrorPerItem", func(t *testing.T) { conformMappingErrors(t, search, c) })
	t.Run("DocumentIDLimit", func(t *testing.T) { conformIDLimit(t, search, c) })
	t.Run("RequestTooLarge", func(t *testing.T) { conformTooLarge(t, search, c) })
	t.Run("TooManyRequests", func(t *testing.T) { conformTooManyRequests(t, search, c) })
	t.Run("NestedDocumentsAndQueries", func(t *testing.T) { conformNestedQueries(t, search, c) })
	t.Run("DeadLetterIndex", func(t *testing.T) { conformDeadLetters(t, search, c) })
}

func n(s string) int {
	v, _ := strconv.Atoi(s)
	return v
}

// conformFields is the view shape the suite indexes: one field of every
// kind the views map to that every engine under test has (no
// scaled_float: see docs/search-engines.md).
var conformFields = []Field{
	{Name: "id", Type: Long},
	{Name: "status", Type: Text},
	{Name: "code", Type: Keyword},
	{Name: "count", Type: Long},
	{Name: "price", Type: Double},
	{Name: "paid", Type: Boolean},
	{Name: "placed", Type: Date},
	{Name: "extra", Type: Stored},
	{Name: "customer", Type: Object, Fields: []Field{{Name: "name", Type: Text}}},
	{Name: "items", Type: Nested, Fields: []Field{
		{Name: "sku", Type: Keyword}, {Name: "qty", Type: Long}, {Name: "name", Type: Text}}},
}

func conformIndex(t *testing.T, search *testbed.Search, c *Client) {
	ctx := context.Background()
	alias := search.Index("orders")
	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 0 {
		t.Fatalf("CurrentVersion of a missing alias = %d, %v; want 0, nil", v, err)
	}
	mapping := Mapping(conformFields, c.Flavour)
	meta := map[string]any{"projector": map[string]any{"view": "orders", "shape": "3f2a"}}
	mapping["_meta"] = meta
	created, err := c.EnsureIndex(ctx, alias, 1, mapping, testSettings)
	if err != nil || !created {
		t.Fatalf("EnsureIndex = %v, %v; want created", created, err)
	}
	if created, err := c.EnsureIndex(ctx, alias, 1, mapping, testSettings); err != nil || created {
		t.Fatalf("EnsureIndex again = %v, %v; want it to find the index", created, err)
	}
	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 1 {
		t.Fatalf("CurrentVersion = %d, %v; want 1", v, err)
	}
	for index, want := range map[string]bool{IndexName(alias, 1): true, IndexName(alias, 2): false} {
		if got, err := c.IndexExists(ctx, index); err != nil || got != want {
			t.Errorf("IndexExists(%s) = %v, %v; want %v", index, got, err, want)
		}
	}
	got, err := c.MappingMeta(ctx, IndexName(alias, 1))
	if err != nil {
		t.Fatalf("MappingMeta: %v", err)
	}
	if !sameJSON(got, meta) {
		t.Errorf("MappingMeta = %v, want %v", got, meta)
	}
	body, err := search.Do(http.MethodGet, "/"+alias+"/_mapping", nil)
	if err != nil {
		t.Fatalf("read the mapping through the alias: %v", err)
	}
	var byIndex map[string]struct {
		Mappings struct {
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(body, &byIndex); err != nil {
		t.Fatalf("read mapping %s: %v", body, err)
	}
	props := byIndex[IndexName(alias, 1)].Mappings.Properties
	for field, want := range map[string]string{"id": "long", "status": "text", "code": "keyword", "items": "nested",
		"placed": "date", "paid": "boolean"} {
		if props[field].Type != want {
			t.Errorf("field %s is mapped as %q through the alias, want %q (mapping %s)", field, props[field].Type, want, body)
		}
	}

	// Error bodies: the engine names the error's type, which the sink
	// reads to decide what an answer means.
	_, err = c.MappingMeta(ctx, search.Index("missing"))
	var missing *apiError
	if !errors.As(err, &missing) || missing.status != http.StatusNotFound || missing.typ != "index_not_found_exception" {
		t.Errorf("MappingMeta of a missing index: %v; want 404 index_not_found_exception", err)
	}

	// Refusals of index creation: a name the engine cannot take and a
	// mapping with a type it does not know.
	if _, err := c.EnsureIndex(ctx, search.Prefix+"Upper", 1, mapping, testSettings); err == nil {
		t.Error("EnsureIndex with an upper-case name succeeded; the engines refuse it")
	}
	bad := map[string]any{"properties": map[string]any{"x": map[string]any{"type": "no_such_type"}}}
	_, err = c.EnsureIndex(ctx, search.Index("bad"), 1, bad, testSettings)
	var apiErr *apiError
	if !errors.As(err, &apiErr) || apiErr.status != http.StatusBadRequest || !strings.HasSuffix(apiErr.typ, "parsing_exception") {
		t.Errorf("EnsureIndex with an unknown field type: %v; want a 400 mapper parsing error", err)
	}
}

func conformAliasSwap(t *testing.T, search *testbed.Search, c *Client) {
	ctx := context.Background()
	alias := search.Index("swap")
	newIndex(t, c, alias, []Field{{Name: "name", Type: Keyword}})
	if created, err := c.EnsureIndex(ctx, alias, 2, Mapping([]Field{{Name: "name", Type: Text}}, c.Flavour),
		testSettings); err != nil || !created {
		t.Fatalf("EnsureIndex v2 = %v, %v; want created", created, err)
	}
	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 1 {
		t.Fatalf("CurrentVersion before the swap = %d, %v; want 1", v, err)
	}
	if err := c.SwapAlias(ctx, alias, IndexName(alias, 1), IndexName(alias, 2)); err != nil {
		t.Fatalf("SwapAlias: %v", err)
	}
	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 2 {
		t.Fatalf("CurrentVersion after the swap = %d, %v; want 2", v, err)
	}
	if ok, err := c.IndexExists(ctx, IndexName(alias, 1)); err != nil || ok {
		t.Errorf("version 1 after the swap: exists=%v, %v; want it deleted", ok, err)
	}
	if body, err := search.Do(http.MethodGet, "/"+alias, nil); err != nil ||
		!bytes.Contains(body, []byte(`"`+IndexName(alias, 2)+`"`)) || bytes.Contains(body, []byte(`"`+IndexName(alias, 1)+`"`)) {
		t.Errorf("GET of the alias after the swap: %s, %v; want version 2 alone", body, err)
	}
	if body, err := search.Do(http.MethodGet, "/"+IndexName(alias, 2)+"/_alias", nil); err != nil ||
		!bytes.Contains(body, []byte(`"`+alias+`"`)) {
		t.Errorf("aliases of version 2: %s, %v; want the alias", body, err)
	}
	if err := c.SwapAlias(ctx, alias, IndexName(alias, 2), IndexName(alias, 2)); err == nil {
		t.Error("SwapAlias onto the index it already points at succeeded")
	}
	// A swap whose alias moved but whose old index was not deleted (the
	// engine failed in between) is retried: it deletes the old index.
	if created, err := c.EnsureIndex(ctx, alias, 1, Mapping([]Field{{Name: "name", Type: Keyword}}, c.Flavour),
		testSettings); err != nil || !created {
		t.Fatalf("EnsureIndex v1 again = %v, %v; want created", created, err)
	}
	if err := c.SwapAlias(ctx, alias, IndexName(alias, 1), IndexName(alias, 2)); err != nil {
		t.Errorf("SwapAlias retried after the alias moved: %v; want the old index deleted", err)
	}
	if ok, err := c.IndexExists(ctx, IndexName(alias, 1)); err != nil || ok {
		t.Errorf("version 1 after the retried swap: exists=%v, %v; want it deleted", ok, err)
	}
	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 2 {
		t.Errorf("CurrentVersion after the retried swap = %d, %v; want 2", v, err)
	}
	// Writes through the alias land in the index it points at.
	results := sendRaw(t, c, bulkLine("index", alias, "1", 1, `{"name":"through the alias"}`))
	if outcomes(results) != "written" {
		t.Fatalf("index through the alias: %+v", results)
	}
	docs, err := mget(search, IndexName(alias, 2), []string{"1"})
	if err != nil || !docs["1"].Found {
		t.Errorf("the document written through the alias is not in version 2: %v, %v", docs, err)
	}
}

// conformExternalVersions pins what the writer's classify relies on: with
// version_type external the engine keeps the highest revision, refuses an
// older or equal one with 409, remembers a delete's version (so a revision
// older than the delete cannot bring the document back) and answers a
// delete of a missing document with 404.
func conformExternalVersions(t *testing.T, search *testbed.Search, c *Client) {
	index := search.Index("versions")
	newIndex(t, c, index, []Field{{Name: "n", Type: Long}})
	steps := []struct {
		verb    string
		id      string
		version int64
		status  int
		outcome outcome
	}{
		{"index", "a", 1, 201, written},
		{"index", "a", 3, 200, written},
		{"index", "a", 2, 409, conflict},
		{"index", "a", 3, 409, conflict},
		{"delete", "a", 2, 409, conflict},
		{"delete", "b", 4, 404, written},
		{"index", "b", 2, 409, conflict},
		{"delete", "a", 5, 200, written},
		{"index", "a", 4, 409, conflict},
		{"index", "a", 6, 201, written},
	}
	var body strings.Builder
	for _, s := range steps {
		body.WriteString(bulkLine(s.verb, index, s.id, s.version, fmt.Sprintf(`{"n":%d}`, s.version)))
	}
	results := sendRaw(t, c, body.String())
	for i, s := range steps {
		r := results[i]
		if r.Status != s.status || classify(&r, s.verb == "delete") != s.outcome {
			t.Errorf("step %d (%s %s v%d): status %d, %v; want %d", i, s.verb, s.id, s.version, r.Status, r.Error, s.status)
		}
		if s.status == 409 && (r.Error == nil || r.Error.Type != "version_conflict_engine_exception") {
			t.Errorf("step %d: error %v; want version_conflict_engine_exception", i, r.Error)
		}
	}
	docs, err := mget(search, index, []string{"a", "b"})
	if err != nil {
		t.Fatalf("read documents: %v", err)
	}
	if a := docs["a"]; !a.Found || a.Version != 6 || !sameJSONBytes(a.Source, []byte(`{"n":6}`)) {
		t.Errorf("document a = %+v; want version 6 with n=6", a)
	}
	if docs["b"].Found {
		t.Errorf("document b = %+v; want it absent", docs["b"])
	}
}

func conformRefreshAndCount(t *testing.T, search *testbed.Search, c *Client) {
	index := search.Index("counted")
	newIndex(t, c, index, conformFields)
	var docs []Document
	for i := range 30 {
		docs = append(docs, Document{Index: index, ID: strconv.Itoa(i), Version: 1,
			Source: json.RawMessage(fmt.Sprintf(`{"id":%d,"code":%q}`, i, []string{"even", "odd"}[i%2]))})
	}
	write(t, c, docs)
	search.Refresh()
	if got := count(t, search, index, ""); got != 30 {
		t.Errorf("count after refresh = %d, want 30", got)
	}
	if got := count(t, search, index, `{"query":{"term":{"code":"odd"}}}`); got != 15 {
		t.Errorf("count of odd documents = %d, want 15", got)
	}
	var deletes []Document
	for i := range 10 {
		deletes = append(deletes, Document{Index: index, ID: strconv.Itoa(i), Version: 2})
	}
	write(t, c, deletes)
	search.Refresh()
	if got := count(t, search, index, ""); got != 20 {
		t.Errorf("count after deleting 10 = %d, want 20", got)
	}
}

func conformMappingErrors(t *testing.T, search *testbed.Search, c *Client) {
	index := search.Index("mapped")
	newIndex(t, c, index, conformFields)
	cases := []struct {
		source string
		want   outcome
	}{
		{`{"count":1}`, written},
		{`{"count":"many"}`, rejected},
		{`{"count":"12"}`, written}, // numbers in strings are coerced
		{`{"paid":"maybe"}`, rejected},
		{`{"paid":"true"}`, written},
		{`{"placed":"not a date"}`, written},  // ignore_malformed
		{`{"price":"not a number"}`, written}, // ignore_malformed
		{`{"customer":"Ada"}`, rejected},      // a value where an object is mapped
		{`{"code":{"a":1}}`, rejected},        // an object where a keyword is mapped
		{`{"unmapped":{"deep":[1,"x"]}}`, written},
		{`{"extra":{"anything":[1,"x",{"y":null}]}}`, written},
	}
	var body strings.Builder
	for i, tc := range cases {
		body.WriteString(bulkLine("index", index, strconv.Itoa(i), 1, tc.source))
	}
	results := sendRaw(t, c, body.String())
	for i, tc := range cases {
		r := results[i]
		if got := classify(&r, false); got != tc.want {
			t.Errorf("%s: status %d %v; want outcome %d", tc.source, r.Status, r.Error, tc.want)
			continue
		}
		if tc.want == rejected && (r.Status != 400 || r.Error == nil || !strings.HasSuffix(r.Error.Type, "parsing_exception") ||
			r.Error.Reason == "") {
			t.Errorf("%s: status %d %+v; want 400 with a parsing exception and its reason", tc.source, r.Status, r.Error)
		}
	}
	if r := results[1]; r.Error != nil && !strings.Contains(r.Error.Reason, "[count]") {
		t.Errorf("the refusal of count=many does not name the field: %q", r.Error.Reason)
	}
	search.Refresh()
	if got := count(t, search, index, `{"query":{"exists":{"field":"unmapped"}}}`); got != 0 {
		t.Errorf("%d documents found by an unmapped field; dynamic false keeps it out of the index", got)
	}
}

func conformIDLimit(t *testing.T, search *testbed.Search, c *Client) {
	index := search.Index("ids")
	newIndex(t, c, index, []Field{{Name: "n", Type: Long}})
	for _, id := range []string{strings.Repeat("x", 512), strings.Repeat("€", 170)} {
		results := sendRaw(t, c, bulkLine("index", index, id, 1, `{"n":1}`))
		if outcomes(results) != "written" {
			t.Errorf("id of %d bytes: %+v; want it written", len(id), results[0])
		}
	}
	for _, id := range []string{strings.Repeat("x", 513), strings.Repeat("€", 171)} {
		body := bulkLine("index", index, "fine", 1, `{"n":1}`) + bulkLine("index", index, id, 1, `{"n":1}`)
		_, err := newConformWriter(t, c, WriterOptions{}).sendBulk(context.Background(), []byte(body), 2, false)
		var refused *refusedError
		if !errors.As(err, &refused) || refused.status != http.StatusBadRequest ||
			refused.cause.Type != "action_request_validation_exception" || !strings.Contains(refused.cause.Reason, "512") {
			t.Errorf("id of %d bytes: %v; want the whole request refused with 400 action_request_validation_exception", len(id), err)
		}
	}
	docs, err := mget(search, index, []string{"fine"})
	if err != nil || docs["fine"].Found {
		t.Errorf("a request refused as a whole wrote its valid document: %v, %v", docs, err)
	}
	results := sendRaw(t, c, bulkLine("index", index, "", 1, `{"n":1}`))
	if r := results[0]; r.Status != 400 || r.Error == nil || r.Error.Type != "illegal_argument_exception" {
		t.Errorf("empty id: %+v; want the item refused with illegal_argument_exception", r)
	}
}

// conformTooLarge: a bulk request over the engine's http.max_content_length
// is answered 413 as a whole. The shared engines keep the default limit
// of 100 MB, too large to send in a test, so a proxy in front of each
// engine applies a small limit as the engine does (413, no body); the
// writer must split the request, dead-letter the document too large alone
// and write the rest to the engine.
func conformTooLarge(t *testing.T, search *testbed.Search, c *Client) {
	proxy := newFaultProxy(t, search.URL)
	// Above a dead letter's size (its source is cut to 64 KiB), below the
	// document's.
	proxy.maxBody.Store(96 << 10)
	pc := connect(t, proxy.url)
	view := search.Index("large")
	newIndex(t, c, view, []Field{{Name: "name", Type: Text}})
	if err := c.EnsureDeadLetterIndex(context.Background(), view, testSettings); err != nil {
		t.Fatalf("EnsureDeadLetterIndex: %v", err)
	}
	var docs []Document
	for i := range 5 {
		src := fmt.Sprintf(`{"name":"item %d"}`, i)
		if i == 3 {
			src = `{"name":"` + strings.Repeat("y", 128<<10) + `"}`
		}
		docs = append(docs, Document{Index: view, ID: strconv.Itoa(i), Version: 1, Source: json.RawMessage(src), View: view})
	}
	writeWith(t, pc, WriterOptions{Concurrency: 1}, docs)
	got, err := mget(search, view, []string{"0", "1", "2", "3", "4"})
	if err != nil {
		t.Fatalf("read documents: %v", err)
	}
	for id, d := range got {
		if d.Found == (id == "3") {
			t.Errorf("document %s: found=%v; want all but the too large one written", id, d.Found)
		}
	}
	letters := deadLetterHits(t, search, view)
	if len(letters) != 1 || letters[0].ID != "3" || letters[0].Error.Type != typeTooLarge || !letters[0].Truncated {
		t.Errorf("dead letters %+v; want one, truncated, for document 3 as too large", letters)
	}
	if proxy.refused.Load() == 0 {
		t.Error("the proxy never answered 413: the test did not test the refusal")
	}
}

// conformTooManyRequests: 429 answers to whole requests (the engine's
// write queue is full) are retried until they pass; nothing is lost or
// dead-lettered. Engines answer 429 only under load, so the proxy answers
// the first requests as they do.
func conformTooManyRequests(t *testing.T, search *testbed.Search, c *Client) {
	proxy := newFaultProxy(t, search.URL)
	proxy.tooMany.Store(2)
	pc := connect(t, proxy.url)
	index := search.Index("busy")
	newIndex(t, c, index, []Field{{Name: "n", Type: Long}})
	var docs []Document
	for i := range 10 {
		docs = append(docs, Document{Index: index, ID: strconv.Itoa(i), Version: 1, Source: json.RawMessage(`{"n":1}`)})
	}
	writeWith(t, pc, WriterOptions{Concurrency: 1}, docs)
	if proxy.tooMany.Load() > 0 || proxy.bulks.Load() < 3 {
		t.Errorf("%d bulk requests, %d 429 answers left: the writer did not retry", proxy.bulks.Load(), proxy.tooMany.Load())
	}
	search.Refresh()
	if got := count(t, search, index, ""); got != 10 {
		t.Errorf("count = %d after 429s, want 10", got)
	}
}

// conformNestedQueries pins the queries the views are read with (see the
// README and deploy/local/demo_queries.py): nested documents match only
// within one nested object, nested fields are invisible outside a nested
// query, text is analyzed and its keyword sub-field is not.
func conformNestedQueries(t *testing.T, search *testbed.Search, c *Client) {
	index := search.Index("nested")
	newIndex(t, c, index, conformFields)
	write(t, c, []Document{
		{Index: index, ID: "1", Version: 1, Source: json.RawMessage(`{"id":1,"status":"delivered","placed":"2026-01-01T10:00:00Z",
			"customer":{"name":"Ada Lovelace"},
			"items":[{"sku":"a","qty":1,"name":"Margherita Pizza"},{"sku":"b","qty":5,"name":"Cola"}]}`)},
		{Index: index, ID: "2", Version: 1, Source: json.RawMessage(`{"id":2,"status":"cancelled","placed":"2026-01-02T10:00:00Z",
			"customer":{"name":"Alan Turing"},"items":[{"sku":"a","qty":5,"name":"Pepperoni Pizza"}]}`)},
		{Index: index, ID: "3", Version: 1, Source: json.RawMessage(`{"id":3,"status":"Delivered","placed":"2026-01-03T10:00:00Z",
			"customer":{"name":"Grace Hopper"},"items":[]}`)},
	})
	search.Refresh()
	cases := []struct {
		name, query string
		want        []string
	}{
		{"nested conditions hold in one object",
			`{"query":{"nested":{"path":"items","query":{"bool":{"must":[{"term":{"items.sku":"a"}},{"range":{"items.qty":{"gte":2}}}]}}}}}`,
			[]string{"2"}},
		{"nested fields are invisible outside a nested query", `{"query":{"term":{"items.sku":"a"}}}`, nil},
		{"nested exists", `{"query":{"nested":{"path":"items","query":{"exists":{"field":"items.sku"}}}}}`, []string{"1", "2"}},
		{"nested match with a keyword filter",
			`{"query":{"bool":{"must":[{"nested":{"path":"items","query":{"match":{"items.name":"pizza"}}}}],` +
				`"filter":[{"term":{"status.keyword":"delivered"}}]}}}`, []string{"1"}},
		{"term on text matches the analyzed token", `{"query":{"term":{"status":"delivered"}}}`, []string{"1", "3"}},
		{"term on text does not analyze the term", `{"query":{"term":{"status":"Delivered"}}}`, nil},
		{"keyword sub-field is exact", `{"query":{"term":{"status.keyword":"Delivered"}}}`, []string{"3"}},
		{"match_phrase in an object", `{"query":{"match_phrase":{"customer.name":"alan turing"}}}`, []string{"2"}},
		{"match_phrase keeps the order", `{"query":{"match_phrase":{"customer.name":"turing alan"}}}`, nil},
		{"must_not", `{"query":{"bool":{"must_not":[{"term":{"status.keyword":"cancelled"}}]}}}`, []string{"1", "3"}},
		{"date range", `{"query":{"range":{"placed":{"gte":"2026-01-02T00:00:00Z"}}}}`, []string{"2", "3"}},
		{"should", `{"query":{"bool":{"should":[{"term":{"id":1}},{"term":{"id":3}}]}}}`, []string{"1", "3"}},
		{"terms", `{"query":{"terms":{"code":["x","y"]}}}`, nil},
		{"ids", `{"query":{"ids":{"values":["2","9"]}}}`, []string{"2"}},
	}
	for _, tc := range cases {
		if got := searchIDs(t, search, index, tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %s found %v, want %v", tc.name, tc.query, got, tc.want)
		}
	}
	// Order and paging, as the read paths page through views.
	if got := searchIDsInOrder(t, search, index, `{"size":2,"sort":[{"placed":"desc"}]}`); !slices.Equal(got, []string{"3", "2"}) {
		t.Errorf("sort by date desc, size 2: %v, want [3 2]", got)
	}
	if got := count(t, search, index, `{"query":{"nested":{"path":"items","query":{"term":{"items.sku":"a"}}}}}`); got != 2 {
		t.Errorf("count with a nested query = %d, want 2", got)
	}
	res, err := search.Do(http.MethodPost, "/"+index+"/_search",
		strings.NewReader(`{"size":0,"aggs":{"s":{"terms":{"field":"status.keyword"}}}}`))
	if err != nil {
		t.Fatalf("terms aggregation: %v", err)
	}
	var aggs struct {
		Aggregations struct {
			S struct {
				Buckets []struct {
					Key      string `json:"key"`
					DocCount int    `json:"doc_count"`
				} `json:"buckets"`
			} `json:"s"`
		} `json:"aggregations"`
	}
	if err := json.Unmarshal(res, &aggs); err != nil || len(aggs.Aggregations.S.Buckets) != 3 {
		t.Errorf("terms aggregation on status.keyword: %s; want three buckets", res)
	}
}

func conformDeadLetters(t *testing.T, search *testbed.Search, c *Client) {
	ctx := context.Background()
	view := search.Index("refusing")
	newIndex(t, c, view, conformFields)
	if err := c.EnsureDeadLetterIndex(ctx, view, testSettings); err != nil {
		t.Fatalf("EnsureDeadLetterIndex: %v", err)
	}
	if err := c.EnsureDeadLetterIndex(ctx, view, testSettings); err != nil {
		t.Fatalf("EnsureDeadLetterIndex on the existing index: %v", err)
	}
	docs := []Document{
		{Index: view, ID: "1", Version: 4, Source: json.RawMessage(`{"count":1}`), View: view, Position: "0/1"},
		{Index: view, ID: "2", Version: 4, Source: json.RawMessage(`{"count":"many"}`), View: view, Position: "0/2"},
		{Index: view, ID: "3", Version: 4, Source: json.RawMessage(`{"count":3}`), View: view, Position: "0/3"},
	}
	writeWith(t, c, WriterOptions{Concurrency: 1}, docs)
	got, err := mget(search, view, []string{"1", "2", "3"})
	if err != nil {
		t.Fatalf("read documents: %v", err)
	}
	if !got["1"].Found || got["2"].Found || !got["3"].Found {
		t.Errorf("documents %+v; want 1 and 3 written and the refused 2 not", got)
	}
	letters := deadLetterHits(t, search, view)
	if len(letters) != 1 {
		t.Fatalf("%d dead letters, want 1: %+v", len(letters), letters)
	}
	dl := letters[0]
	if dl.ID != "2" || dl.Index != view || dl.View != view || dl.Version != 4 || dl.Position != "0/2" ||
		dl.Action != "index" || dl.Document != `{"count":"many"}` || dl.Time.IsZero() ||
		!strings.HasSuffix(dl.Error.Type, "parsing_exception") || dl.Error.CausedBy == "" {
		t.Errorf("dead letter %+v does not describe the refused revision", dl)
	}
	query := `{"query":{"bool":{"filter":[{"term":{"id":"2"}},{"term":{"action":"index"}}]}}}`
	if got := count(t, search, DeadLetterIndex(view), query); got != 1 {
		t.Errorf("%d dead letters found by id and action, want 1", got)
	}
}

// faultProxy stands in front of an engine and answers as the engine does
// under conditions a shared test engine cannot be put in: a body over
// maxBody is answered 413 without a body, and the first tooMany bulk
// requests 429.
type faultProxy struct {
	url     string
	maxBody atomic.Int64
	tooMany atomic.Int32
	bulks   atomic.Int32
	refused atomic.Int32
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("engine URL %s: %v", target, err)
	}
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			p.bulks.Add(1)
			body, _ := io.ReadAll(r.Body)
			if limit := p.maxBody.Load(); limit > 0 && int64(len(body)) > limit {
				p.refused.Add(1)
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
			if p.tooMany.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of `+
					`coordinating operation"},"status":429}`)
				return
			}
			p.tooMany.Store(0)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// bulkLine encodes one action as the writer does (external versions).
func bulkLine(verb, index, id string, version int64, source string) string {
	d := Document{Index: index, ID: id, Version: version}
	if verb != "delete" {
		d.Source = json.RawMessage(source)
	}
	var e encoder
	if err := e.add(&d, true); err != nil {
		panic(err)
	}
	return string(e.bytes())
}

func newConformWriter(t *testing.T, c *Client, opts WriterOptions) *Writer {
	t.Helper()
	w, err := NewWriter(c, opts, nil, testLogger(t))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	return w
}

// sendRaw sends a bulk body through the writer's own request path and
// returns the item results.
func sendRaw(t *testing.T, c *Client, body string) []itemResult {
	t.Helper()
	n := 0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, `{"index":`) || strings.HasPrefix(line, `{"delete":`) {
			n++
		}
	}
	results, err := newConformWriter(t, c, WriterOptions{}).sendBulk(context.Background(), []byte(body), n, false)
	if err != nil {
		t.Fatalf("bulk request: %v", err)
	}
	return results
}

// outcomes summarises the outcome of every item, for one-item checks.
func outcomes(results []itemResult) string {
	var out []string
	for i := range results {
		out = append(out, []string{"written", "conflict", "retryable", "rejected"}[classify(&results[i], false)])
	}
	return strings.Join(out, ",")
}

func write(t *testing.T, c *Client, docs []Document) {
	t.Helper()
	writeWith(t, c, WriterOptions{}, docs)
}

// writeWith writes docs through a writer and waits for their ack.
func writeWith(t *testing.T, c *Client, opts WriterOptions, docs []Document) {
	t.Helper()
	opts.RetryInitial, opts.RetryMax = 10*time.Millisecond, 50*time.Millisecond
	w := newConformWriter(t, c, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("writer: %v", err)
		}
	}()
	acks := &ackLog{}
	if err := w.Submit(ctx, docs, acks.ack(0)); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	acks.waitAcks(t, 1, time.Minute)
}

func count(t *testing.T, search *testbed.Search, index, query string) int {
	t.Helper()
	var body io.Reader
	if query != "" {
		body = strings.NewReader(query)
	}
	res, err := search.Do(http.MethodPost, "/"+index+"/_count", body)
	if err != nil {
		t.Fatalf("count %s: %v", index, err)
	}
	var r struct{ Count int }
	if err := json.Unmarshal(res, &r); err != nil {
		t.Fatalf("read count %s: %v", res, err)
	}
	return r.Count
}

// searchIDs returns the sorted ids of every hit of query.
func searchIDs(t *testing.T, search *testbed.Search, index, query string) []string {
	t.Helper()
	var q map[string]any
	if err := json.Unmarshal([]byte(query), &q); err != nil {
		t.Fatalf("query %s: %v", query, err)
	}
	q["size"] = 100
	b, _ := json.Marshal(q)
	ids := searchIDsInOrder(t, search, index, string(b))
	slices.Sort(ids)
	return ids
}

func searchIDsInOrder(t *testing.T, search *testbed.Search, index, query string) []string {
	t.Helper()
	res, err := search.Do(http.MethodPost, "/"+index+"/_search", strings.NewReader(query))
	if err != nil {
		t.Fatalf("search %s: %v", query, err)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		t.Fatalf("read hits %s: %v", res, err)
	}
	var ids []string
	for _, h := range r.Hits.Hits {
		ids = append(ids, h.ID)
	}
	return ids
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return sameJSONBytes(x, y)
}

func sameJSONBytes(x, y []byte) bool {
	var a, b any
	if json.Unmarshal(x, &a) != nil || json.Unmarshal(y, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}
