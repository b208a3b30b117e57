package sink

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/internal/searchfake"
)

// cannedAnswer is one answer of the fake engine.
type cannedAnswer struct {
	status int
	body   string
}

// fakeEngine answers bulk requests with canned answers in turn, repeating
// the last, and keeps the request bodies.
type fakeEngine struct {
	mu       sync.Mutex
	answers  []cannedAnswer
	requests []string
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, string(body))
	a := f.answers[0]
	if len(f.answers) > 1 {
		f.answers = f.answers[1:]
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (f *fakeEngine) bodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// fakeClient is a Client for an httptest server that serves h.
func fakeClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	tp, err := elastictransport.New(elastictransport.Config{URLs: []*url.URL{u}, DisableRetry: true})
	if err != nil {
		t.Fatalf("transport: %v", err)
	}
	return &Client{API: esapi.New(tp), Flavour: OpenSearch, Transport: tp}
}

// fastOptions make tests wait milliseconds, not the production defaults.
func fastOptions() WriterOptions {
	return WriterOptions{FlushInterval: time.Millisecond, RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond,
		DrainTimeout: time.Second}
}

// startWriter runs a writer until the test ends and returns it with its
// registry and a channel that yields Run's result.
func startWriter(t *testing.T, c *Client, opts WriterOptions) (*Writer, *prometheus.Registry, <-chan error) {
	t.Helper()
	reg := prometheus.NewRegistry()
	w, err := NewWriter(c, opts, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx)
		close(done) // the test may have taken the result already
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("writer did not stop within 30s of cancellation")
		}
	})
	return w, reg, done
}

// waitClosed fails the test unless ch closes before the deadline.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// okEngine is the in-memory engine of internal/searchfake, the one the
// conformance suite holds to the real engines' behaviour, answering after
// release is closed when it is set.
type okEngine struct {
	release chan struct{}

	once   sync.Once
	engine *searchfake.Engine
}

func (e *okEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.release != nil {
		select {
		case <-e.release:
		case <-r.Context().Done():
			return
		}
	}
	e.once.Do(func() { e.engine = searchfake.New(searchfake.OpenSearch) })
	e.engine.ServeHTTP(w, r)
}
