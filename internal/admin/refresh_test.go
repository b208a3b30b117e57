package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// headerTimeout is the error an HTTP transport returns when the search
// engine does not answer within sink.timeout.
type headerTimeout struct{}

func (headerTimeout) Error() string   { return "net/http: timeout awaiting response headers" }
func (headerTimeout) Timeout() bool   { return true }
func (headerTimeout) Temporary() bool { return true }

// TestWaitRetriesSlowRefreshes: a refresh the search engine did not
// answer in time is asked for again while the wait lasts, so a busy
// cluster makes a wait slow (or a 504), not a 502; a refresh that fails
// otherwise still answers 502.
func TestWaitRetriesSlowRefreshes(t *testing.T) {
	f := newFake()
	f.advance(0x100)
	slow := &url.Error{Op: "Post", URL: "http://search/orders_v/_refresh", Err: headerTimeout{}}
	f.refreshErrs = []error{fmt.Errorf("refresh orders_v: %w", slow), fmt.Errorf("refresh orders_v: %w", slow)}
	srv, _ := newTestServer(t, f)
	status, body := call(t, "GET", srv+"/v1/wait?view=orders_v&source=orders&lsn=0/100&timeout=10s", waitToken, "")
	if status != http.StatusOK {
		t.Fatalf("wait through two slow refreshes: %d %s, want 200", status, body)
	}
	f.mu.Lock()
	n := len(f.refreshes)
	f.mu.Unlock()
	if n != 3 {
		t.Errorf("%d refreshes, want 3: two that timed out, one that answered", n)
	}
	f.mu.Lock()
	f.refreshErrs = []error{errors.New("refresh orders_v: 403 Forbidden")}
	f.mu.Unlock()
	status, body = call(t, "GET", srv+"/v1/wait?view=orders_v&source=orders&lsn=0/100&timeout=10s", waitToken, "")
	if status != http.StatusBadGateway || !strings.Contains(body, "403 Forbidden") {
		t.Errorf("wait through a failed refresh: %d %s, want 502 saying why", status, body)
	}
}
