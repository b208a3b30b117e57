package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
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

// TestRefreshMarks: a wait needs no refresh when one that started once
// its change was durable has ended, joins the running one when that
// started after, and takes the next one when the running refresh started
// before, or in another run of the pipeline, or on another index.
func TestRefreshMarks(t *testing.T) {
	var mu sync.Mutex
	mark := Mark{Run: 1, Settled: 5, Index: "orders_v1"}
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	r := newRefresher(context.Background(), func(context.Context, string) error {
		started <- struct{}{}
		<-release
		return nil
	}, func(string) Mark { mu.Lock(); defer mu.Unlock(); return mark })
	defer r.close()
	set := func(m Mark) { mu.Lock(); defer mu.Unlock(); mark = m }
	waitAsync := func(need Mark) chan error {
		done := make(chan error, 1)
		go func() { done <- r.wait(context.Background(), "orders", need) }()
		return done
	}

	// The first wait starts a refresh at mark 5; one that needs 5 joins
	// it, one that needs 6 takes the next.
	first := waitAsync(Mark{Run: 1, Settled: 5, Index: "orders_v1"})
	<-started
	joined := waitAsync(Mark{Run: 1, Settled: 5, Index: "orders_v1"})
	later := waitAsync(Mark{Run: 1, Settled: 6, Index: "orders_v1"})
	time.Sleep(50 * time.Millisecond) // let both queue
	set(Mark{Run: 1, Settled: 6, Index: "orders_v1"})
	release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	<-started // the next round, for the wait that needs 6
	release <- struct{}{}
	if err := <-later; err != nil {
		t.Fatal(err)
	}
	if n := r.count.Load(); n != 2 {
		t.Errorf("%d refreshes for three waits, two of them covered by the first; want 2", n)
	}
	// Covered by the last refresh, which started at 6: none needed.
	if err := r.wait(context.Background(), "orders", Mark{Run: 1, Settled: 6, Index: "orders_v1"}); err != nil {
		t.Fatal(err)
	}
	if n := r.count.Load(); n != 2 {
		t.Errorf("a wait covered by the last refresh ran one: %d refreshes, want 2", n)
	}
	// Another run, another index, or an unknown mark: a new refresh each.
	for i, need := range []Mark{{Run: 2, Settled: 1, Index: "orders_v1"}, {Run: 1, Settled: 6, Index: "orders_v2"}, {}} {
		done := waitAsync(need)
		<-started
		release <- struct{}{}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := r.count.Load(); n != int64(3+i) {
			t.Errorf("wait needing %+v: %d refreshes, want %d", need, n, 3+i)
		}
	}
}
