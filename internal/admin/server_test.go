package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/capture"
)

const (
	adminToken = "adm1n-t0ken-value"
	waitToken  = "wa1t-t0ken-value"
)

// fakeDaemon has one view "orders_v" over source "orders" whose durable
// position the test moves.
type fakeDaemon struct {
	mu        sync.Mutex
	durable   capture.LSN
	changed   chan struct{}
	refreshes []capture.LSN // the durable position at each refresh's start
	refreshIn time.Duration
	// refreshErrs are the errors of the first refreshes, in order.
	refreshErrs []error
	stopped     []string
	// asked holds every position a wait asked Reached about.
	asked map[capture.LSN]bool
}

func newFake() *fakeDaemon { return &fakeDaemon{changed: make(chan struct{})} }

func (f *fakeDaemon) advance(lsn capture.LSN) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.durable = lsn
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeDaemon) Views(context.Context) ([]View, error) {
	n := int64(3)
	return []View{{Name: "orders_v", Alias: "orders_v", Index: "orders_v_v1", Version: 1, Documents: &n, State: StateStreaming,
		Sources: []Source{{Name: "orders", Durable: "0/10"}}}}, nil
}

func (f *fakeDaemon) Reached(view, source string, lsn capture.LSN) (bool, <-chan struct{}, error) {
	if view != "orders_v" || source != "orders" {
		return false, nil, ErrNotFound
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asked == nil {
		f.asked = map[capture.LSN]bool{}
	}
	f.asked[lsn] = true
	return f.durable >= lsn, f.changed, nil
}

func (f *fakeDaemon) Refresh(ctx context.Context, view string) error {
	f.mu.Lock()
	f.refreshes = append(f.refreshes, f.durable)
	var err error
	if len(f.refreshErrs) > 0 {
		err, f.refreshErrs = f.refreshErrs[0], f.refreshErrs[1:]
	}
	f.mu.Unlock()
	time.Sleep(f.refreshIn)
	return err
}

func (f *fakeDaemon) Rebuild(view string) error {
	if view != "orders_v" {
		return ErrNotFound
	}
	return nil
}

func (f *fakeDaemon) Stop(view string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, view)
	return nil
}

func (f *fakeDaemon) Resume(view string) error { return ErrConflict }

// newTestServer serves the admin API over f and returns its URL and the
// log it writes.
func newTestServer(t *testing.T, f *fakeDaemon) (string, *bytes.Buffer) {
	t.Helper()
	url, logs, _ := newTestServerWithMetrics(t, f)
	return url, logs
}

// newTestServerWithMetrics is newTestServer with the admin metrics on a
// registry of their own.
func newTestServerWithMetrics(t *testing.T, f Daemon) (string, *bytes.Buffer, *prometheus.Registry) {
	t.Helper()
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.DeclareView("orders_v")
	s := New(ctx, Options{Token: adminToken, WaitToken: waitToken, Daemon: f, Log: log, Metrics: m})
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		s.Close()
	})
	return srv.URL, &logs, reg
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestTokenRequired: every endpoint refuses a request without the admin
// token, or with a wrong one; the wait token opens /v1/wait alone; no
// answer and no log line carries a token.
func TestTokenRequired(t *testing.T) {
	f := newFake()
	f.advance(100)
	url, logs := newTestServer(t, f)
	endpoints := []struct {
		method, path, body string
		waitOK             bool
	}{
		{"GET", "/v1/views", "", false},
		{"GET", "/v1/views/orders_v", "", false},
		{"POST", "/v1/views/orders_v/rebuild", "", false},
		{"POST", "/v1/views/orders_v/stop", "", false},
		{"POST", "/v1/views/orders_v/resume", "", false},
		{"POST", "/v1/snapshot", `{"view":"orders_v"}`, false},
		{"GET", "/v1/wait?view=orders_v&source=orders&lsn=0/10", "", true},
		{"GET", "/v1/nothing", "", false},
	}
	var bodies []string
	for _, e := range endpoints {
		for _, token := range []string{"", "wrong", adminToken + "x", adminToken[:5]} {
			status, body := call(t, e.method, url+e.path, token, e.body)
			if status != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: %d %s, want 401", e.method, e.path, token, status, body)
			}
			bodies = append(bodies, body)
		}
		status, body := call(t, e.method, url+e.path, waitToken, e.body)
		if got := status != http.StatusUnauthorized; got != e.waitOK {
			t.Errorf("%s %s with the wait token: %d %s; want it accepted: %v", e.method, e.path, status, body, e.waitOK)
		}
		status, body = call(t, e.method, url+e.path, adminToken, e.body)
		if status == http.StatusUnauthorized {
			t.Errorf("%s %s with the admin token: 401 %s", e.method, e.path, body)
		}
		bodies = append(bodies, body)
	}
	for _, text := range append(bodies, logs.String()) {
		if strings.Contains(text, "t0ken") {
			t.Errorf("a token is echoed: %s", text)
		}
	}
	if !strings.Contains(logs.String(), "action=stop") {
		t.Errorf("the stop request is not logged: %s", logs)
	}
}

func TestEndpoints(t *testing.T) {
	f := newFake()
	f.advance(0x10)
	url, _, reg := newTestServerWithMetrics(t, f)
	cases := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"GET", "/v1/views", "", 200, `"index":"orders_v_v1"`},
		{"GET", "/v1/views/orders_v", "", 200, `"documents":3`},
		{"GET", "/v1/views/nope", "", 404, `no view named \"nope\"`},
		{"POST", "/v1/views/orders_v/rebuild", "", 202, `"status":"started"`},
		{"POST", "/v1/views/nope/rebuild", "", 404, "rebuild view nope: not found"},
		{"POST", "/v1/views/orders_v/resume", "", 409, "resume view orders_v: conflict"},
		{"GET", "/v1/views/orders_v/rebuild", "", 404, "no admin endpoint"},
		{"POST", "/v1/snapshot", `{"view":"orders_v"}`, 501, "not available"},
		{"POST", "/v1/snapshot", `{"source":"orders"}`, 400, "either a source and a table"},
		{"POST", "/v1/snapshot", `{"view":"orders_v","source":"orders","table":"t"}`, 400, "either a source and a table"},
		{"POST", "/v1/snapshot", `{"viewx":"orders_v"}`, 400, "unknown field"},
		{"GET", "/v1/wait?view=orders_v&source=orders&lsn=0/10", "", 200, `"lsn":"0/10"`},
		{"GET", "/v1/wait?view=orders_v&source=orders", "", 400, "required"},
		{"GET", "/v1/wait?view=orders_v&source=orders&lsn=zz", "", 400, "not a PostgreSQL WAL position"},
		{"GET", "/v1/wait?view=orders_v&source=orders&lsn=0/10&timeout=forever", "", 400, "not a duration"},
		{"GET", "/v1/wait?view=orders_v&source=orders&lsn=0/10&timeout=2h", "", 400, "not a duration"},
		{"GET", "/v1/wait?view=nope&source=orders&lsn=0/10", "", 404, "not found"},
		{"GET", "/v1/wait?view=orders_v&source=nope&lsn=0/10", "", 404, "not found"},
		{"GET", "/v1/wait?view=orders_v&source=orders&lsn=0/11&timeout=100ms", "", 504, "is not durable in view orders_v after 100ms"},
	}
	for _, c := range cases {
		status, body := call(t, c.method, url+c.path, adminToken, c.body)
		if status != c.status || !strings.Contains(body, c.contains) {
			t.Errorf("%s %s %s: %d %s, want %d and %q", c.method, c.path, c.body, status, body, c.status, c.contains)
		}
		if !json.Valid([]byte(body)) {
			t.Errorf("%s %s: not JSON: %s", c.method, c.path, body)
		}
	}
	// One wait answered visible, one timed out, six were refused.
	want := `
# HELP projector_admin_waits_total GET /v1/wait requests by how they ended: visible, timeout, refused (4xx) or failed (5xx).
# TYPE projector_admin_waits_total counter
projector_admin_waits_total{result="failed"} 0
projector_admin_waits_total{result="refused"} 6
projector_admin_waits_total{result="timeout"} 1
projector_admin_waits_total{result="visible"} 1
# HELP projector_admin_refreshes_total Refreshes of a view's index that waits asked for; one serves every wait pending when it starts.
# TYPE projector_admin_refreshes_total counter
projector_admin_refreshes_total{view="orders_v"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "projector_admin_waits_total", "projector_admin_refreshes_total"); err != nil {
		t.Error(err)
	}
}

// TestWaitCoalescesRefreshes: many reads waiting at once are served by
// few refreshes, each of which started once their change was durable.
// The daemon gives Marks, as projector's does: without them a wait that
// arrives while a refresh runs needs the next one, so how many refreshes
// fifty waits take depends on how the machine spreads their arrivals
// (one in some thirty runs took five on a loaded machine); with them it
// depends only on how far the index got.
func TestWaitCoalescesRefreshes(t *testing.T) {
	f := newFake()
	f.refreshIn = 20 * time.Millisecond
	url, _, _ := newTestServerWithMetrics(t, markingFake{f})
	const waiters = 50
	var wg sync.WaitGroup
	results := make(chan int, waiters)
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lsn := capture.LSN(0x100 + i)
			status, _ := call(t, "GET", url+"/v1/wait?view=orders_v&source=orders&timeout=5s&lsn="+lsn.String(), waitToken, "")
			results <- status
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		f.mu.Lock()
		asked := len(f.asked)
		f.mu.Unlock()
		if asked == waiters {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d waits asked for their position after 30 s", asked, waiters)
		}
	}
	f.mu.Lock()
	n := len(f.refreshes)
	f.mu.Unlock()
	if n != 0 {
		t.Errorf("%d refreshes before anything was durable, want none", n)
	}
	f.advance(0x100 + waiters/2)
	time.Sleep(10 * time.Millisecond)
	f.advance(0x100 + waiters)
	wg.Wait()
	close(results)
	for status := range results {
		if status != 200 {
			t.Errorf("a wait answered %d, want 200", status)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// One refresh that started at the first position, one at the second:
	// every wait needs one of them, however late it arrives.
	if len(f.refreshes) == 0 || len(f.refreshes) > 2 {
		t.Errorf("%d refreshes for %d waits, want 1 or 2", len(f.refreshes), waiters)
	}
	if f.refreshes[len(f.refreshes)-1] < 0x100+waiters-1 {
		t.Errorf("the last refresh started at %s, before the last wait's change was durable", f.refreshes[len(f.refreshes)-1])
	}
}

// TestWaitPhases: a visible wait says how long it waited for its change to
// be durable and how long for the refresh after, in its answer and in the
// phase and refresh histograms.
func TestWaitPhases(t *testing.T) {
	f := newFake()
	f.refreshIn = 30 * time.Millisecond
	url, _, reg := newTestServerWithMetrics(t, f)
	go func() {
		time.Sleep(60 * time.Millisecond)
		f.advance(0x20)
	}()
	status, body := call(t, "GET", url+"/v1/wait?view=orders_v&source=orders&lsn=0/20&timeout=5s", waitToken, "")
	if status != 200 {
		t.Fatalf("wait: %d %s", status, body)
	}
	var got struct {
		Waited     float64 `json:"waited_seconds"`
		Durable    float64 `json:"durable_seconds"`
		Searchable float64 `json:"searchable_seconds"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if got.Durable < 0.05 || got.Searchable < 0.025 || math.Abs(got.Durable+got.Searchable-got.Waited) > 1e-6 {
		t.Errorf("durable %.3f s and searchable %.3f s of %.3f s, want at least 0.05 s (the change's delay) and 0.025 s (the refresh), adding up",
			got.Durable, got.Searchable, got.Waited)
	}
	counts := map[string]uint64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				counts[name] = h.GetSampleCount()
			}
		}
	}
	for _, name := range []string{"projector_admin_wait_phase_seconds/durable", "projector_admin_wait_phase_seconds/searchable", "projector_admin_refresh_seconds", "projector_admin_wait_seconds"} {
		if counts[name] != 1 {
			t.Errorf("%s counts %d observations, want 1 (all: %v)", name, counts[name], counts)
		}
	}
}
