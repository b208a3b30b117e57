package searchfake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The behaviours the fake shares with the engines are tested by the sink
// conformance suite (sink/conformance_test.go), against the engines too.
// These are the ones the suite reaches only through a proxy.

func TestBodyOverMaxContentLengthIs413(t *testing.T) {
	e := New(OpenSearch)
	e.MaxContentLength = 64
	for _, tt := range []struct {
		body string
		want int
	}{
		{`{"index":{"_index":"a","_id":"1"}}` + "\n" + `{"n":1}` + "\n", http.StatusOK},
		{`{"index":{"_index":"a","_id":"1"}}` + "\n" + `{"n":"` + strings.Repeat("x", 64) + `"}` + "\n",
			http.StatusRequestEntityTooLarge},
	} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/_bulk", strings.NewReader(tt.body)))
		if rec.Code != tt.want {
			t.Errorf("body of %d bytes: status %d, want %d (%s)", len(tt.body), rec.Code, tt.want, rec.Body)
		}
		if tt.want == http.StatusRequestEntityTooLarge && rec.Body.Len() != 0 {
			t.Errorf("413 with a body %q; the engines send none", rec.Body)
		}
	}
}

func TestElasticsearchFlavourSendsTheProductHeader(t *testing.T) {
	for flavour, want := range map[Flavour]string{OpenSearch: "", Elasticsearch: "Elasticsearch"} {
		rec := httptest.NewRecorder()
		New(flavour).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/no_such_index/_search", nil))
		if got := rec.Header().Get("X-Elastic-Product"); got != want {
			t.Errorf("flavour %d: X-Elastic-Product %q, want %q", flavour, got, want)
		}
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "index_not_found_exception") {
			t.Errorf("flavour %d: search of a missing index: %d %s", flavour, rec.Code, rec.Body)
		}
	}
}
