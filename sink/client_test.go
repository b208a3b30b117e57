package sink

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeRoot answers GET / like a search engine product would, and 200 {}
// to everything else, with or without Elasticsearch's product header.
func fakeRoot(t *testing.T, body string, productHeader, headerOnAPI bool) http.HandlerFunc {
	t.Helper()
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if productHeader && (r.URL.Path == "/" || headerOnAPI) {
			w.Header().Set("X-Elastic-Product", "Elasticsearch")
		}
		if r.URL.Path == "/" {
			w.Write([]byte(body))
			return
		}
		w.Write([]byte(`{"cluster_name":"c","status":"green"}`))
	}
}

const (
	elasticRoot    = `{"name":"n","version":{"number":"8.15.2","build_flavor":"default"},"tagline":"You Know, for Search"}`
	openSearchRoot = `{"name":"n","version":{"distribution":"opensearch","number":"2.19.1"},"tagline":"The OpenSearch Project: https://opensearch.org/"}`
)

func TestConnectDetectsTheFlavour(t *testing.T) {
	tests := []struct {
		name        string
		handler     func(t *testing.T) http.HandlerFunc
		wantFlavour Flavour
		wantVersion string
		wantErr     string
	}{
		{"elasticsearch", func(t *testing.T) http.HandlerFunc { return fakeRoot(t, elasticRoot, true, true) }, Elasticsearch, "8.15.2", ""},
		{"opensearch", func(t *testing.T) http.HandlerFunc { return fakeRoot(t, openSearchRoot, false, false) }, OpenSearch, "2.19.1", ""},
		{"neither", func(t *testing.T) http.HandlerFunc { return fakeRoot(t, elasticRoot, false, false) }, "", "",
			"is neither Elasticsearch (no X-Elastic-Product header) nor OpenSearch"},
		{"refused", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }
		}, "", "", "401 Unauthorized (check the URL and credentials)"},
		{"not json", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>")) }
		}, "", "", "answer is not a search engine's JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler(t))
			defer srv.Close()
			c, err := Connect(context.Background(), Options{URLs: []string{srv.URL}, Timeout: 5 * time.Second})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Connect error = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if c.Flavour != tt.wantFlavour || c.Version != tt.wantVersion {
				t.Errorf("flavour %s %s, want %s %s", c.Flavour, c.Version, tt.wantFlavour, tt.wantVersion)
			}
			res, err := c.API.Cluster.Health(c.API.Cluster.Health.WithContext(context.Background()))
			if err != nil {
				t.Fatalf("API call on %s: %v", tt.name, err)
			}
			res.Body.Close()
		})
	}
}

// TestElasticsearchKeepsTheProductCheck: a server that claims to be
// Elasticsearch on GET / but then stops sending the product header is
// refused by the official client, as it would be without projector.
func TestElasticsearchKeepsTheProductCheck(t *testing.T) {
	srv := httptest.NewServer(fakeRoot(t, elasticRoot, true, false))
	defer srv.Close()
	c, err := Connect(context.Background(), Options{URLs: []string{srv.URL}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	res, err := c.API.Cluster.Health()
	if err == nil {
		res.Body.Close()
		t.Fatal("the product check let an answer without X-Elastic-Product through")
	}
	if !strings.Contains(err.Error(), "Elasticsearch") {
		t.Errorf("product check error %q", err)
	}
}

func TestConnectOverTLS(t *testing.T) {
	srv := httptest.NewTLSServer(fakeRoot(t, openSearchRoot, false, false))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"trusted CA", Options{CACert: ca}, ""},
		{"unknown CA", Options{}, "certificate"},
		{"verification off", Options{InsecureSkipVerify: true}, ""},
		{"not PEM", Options{CACert: []byte("nope")}, "not valid PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.URLs = []string{srv.URL}
			_, err := Connect(context.Background(), tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Connect: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Connect error = %v, want one about %q", err, tt.wantErr)
			}
		})
	}
}

func TestConnectSendsCredentials(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		fakeRoot(t, openSearchRoot, false, false)(w, r)
	}))
	defer srv.Close()
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"basic", Options{Username: "elastic", Password: "s3cret"}, "Basic ZWxhc3RpYzpzM2NyZXQ="},
		{"api key", Options{APIKey: "aWQ6a2V5"}, "APIKey aWQ6a2V5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.URLs = []string{srv.URL}
			if _, err := Connect(context.Background(), tt.opts); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if got != tt.want {
				t.Errorf("Authorization %q, want %q", got, tt.want)
			}
		})
	}
}

// TestConnectAsksForCompressionOnlyWithGzip: without sink.gzip neither
// the requests nor the responses are compressed, so the search engine
// does not compress every bulk response for projector to decompress.
func TestConnectAsksForCompressionOnlyWithGzip(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Accept-Encoding"))
		fakeRoot(t, openSearchRoot, false, false)(w, r)
	}))
	defer srv.Close()
	for _, tt := range []struct {
		gzip bool
		want string
	}{
		{false, ""},
		{true, "gzip"},
	} {
		got = nil
		c, err := Connect(context.Background(), Options{URLs: []string{srv.URL}, Gzip: tt.gzip})
		if err != nil {
			t.Fatalf("Connect (gzip %v): %v", tt.gzip, err)
		}
		res, err := c.API.Cluster.Health()
		if err != nil {
			t.Fatalf("a request after Connect (gzip %v): %v", tt.gzip, err)
		}
		res.Body.Close()
		if len(got) < 2 {
			t.Fatalf("gzip %v: the server saw %d requests, want the root's and the API's", tt.gzip, len(got))
		}
		for i, enc := range got {
			if enc != tt.want {
				t.Errorf("gzip %v: request %d asked for Accept-Encoding %q, want %q", tt.gzip, i, enc, tt.want)
			}
		}
	}
}

func TestConnectErrorsHideURLPasswords(t *testing.T) {
	_, err := Connect(context.Background(), Options{URLs: []string{"http://user:hunter2@127.0.0.1:1"}, Timeout: time.Second})
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
}
