package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/projector-dev/projector/capture"
)

// Options configure the admin API.
type Options struct {
	// Token is the admin token every request must bear; WaitToken, when
	// set, is accepted by /v1/wait too.
	Token     string
	WaitToken string
	Daemon    Daemon
	// Snapshots, when nil, makes POST /v1/snapshot answer 501.
	Snapshots Snapshotter
	Log       *slog.Logger
	// Metrics, when set, count the waits and the refreshes.
	Metrics *Metrics
}

// Server is the admin API's handler. Its refreshes outlive a request:
// Close waits for them.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	refresh *refresher
}

// New returns the admin API over opts.Daemon; ctx bounds its refreshes.
func New(ctx context.Context, opts Options) *Server {
	refresh := func(ctx context.Context, view string) error {
		start := time.Now()
		err := opts.Daemon.Refresh(ctx, view)
		opts.Metrics.refreshed(view, time.Since(start).Seconds())
		return err
	}
	var mark func(string) Mark
	if m, ok := opts.Daemon.(Marker); ok {
		mark = m.Mark
	}
	rf := newRefresher(ctx, refresh, mark)
	if wr, ok := opts.Daemon.(WriteRefresher); ok && mark != nil {
		rf.bulk = func(ctx context.Context, view string) (Mark, bool, error) {
			m, ok, err := wr.RefreshWithWrites(ctx, view)
			if ok && err == nil {
				opts.Metrics.bulkRefreshed(view)
			}
			return m, ok, err
		}
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), refresh: rf}
	admin := func(h http.HandlerFunc) http.Handler { return s.bearer(false, h) }
	s.mux.Handle("GET /v1/views", admin(s.views))
	s.mux.Handle("GET /v1/views/{view}", admin(s.view))
	s.mux.Handle("POST /v1/views/{view}/rebuild", admin(s.control("rebuild", opts.Daemon.Rebuild)))
	s.mux.Handle("POST /v1/views/{view}/stop", admin(s.control("stop", opts.Daemon.Stop)))
	s.mux.Handle("POST /v1/views/{view}/resume", admin(s.control("resume", opts.Daemon.Resume)))
	s.mux.Handle("POST /v1/snapshot", admin(s.snapshot))
	s.mux.Handle("GET /v1/wait", s.bearer(true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		s.wait(sw, r)
		opts.Metrics.waited(sw.status, time.Since(start).Seconds())
	})))
	s.mux.Handle("/", admin(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no admin endpoint %s %s; see README, \"Admin API\"", r.Method, r.URL.Path))
	}))
	return s
}

// ServeHTTP serves the admin API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close waits for the refreshes in flight.
func (s *Server) Close() { s.refresh.close() }

// Serve serves s on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, s *Server, log *slog.Logger) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("serving the admin API", "addr", ln.Addr().String())
	select {
	case err := <-done:
		return fmt.Errorf("admin server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("stop admin server: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin server: %w", err)
	}
	return nil
}

// bearer passes on only requests bearing the admin token, or, for wait,
// the wait token. The comparisons take the same time whatever the request
// sent, so a token cannot be guessed byte by byte; the answer never
// repeats what was sent.
func (s *Server) bearer(wait bool, next http.Handler) http.Handler {
	want := []byte("Bearer " + s.opts.Token)
	var alt []byte
	if wait && s.opts.WaitToken != "" {
		alt = []byte("Bearer " + s.opts.WaitToken)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		ok := subtle.ConstantTimeCompare(got, want) == 1
		if alt != nil {
			ok = subtle.ConstantTimeCompare(got, alt) == 1 || ok
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="projector admin"`)
			what := "admin.token_file"
			if alt != nil {
				what = "admin.token_file or admin.wait_token_file"
			}
			writeError(w, http.StatusUnauthorized, "send the token of "+what+" as Authorization: Bearer <token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) views(w http.ResponseWriter, r *http.Request) {
	views, err := s.opts.Daemon.Views(r.Context())
	if err != nil {
		s.fail(w, "list views", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"views": views})
}

func (s *Server) view(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("view")
	views, err := s.opts.Daemon.Views(r.Context())
	if err != nil {
		s.fail(w, "list views", err)
		return
	}
	for _, v := range views {
		if v.Name == name {
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no view named %q; GET /v1/views lists them", name))
}

// control runs one of the view commands, which return once started.
func (s *Server) control(what string, do func(view string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		view := r.PathValue("view")
		if err := do(view); err != nil {
			s.fail(w, what+" view "+view, err)
			return
		}
		s.opts.Log.Info("admin request", "action", what, "view", view, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusAccepted, map[string]string{"view": view, "action": what, "status": "started"})
	}
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	var req SnapshotRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("read the request body: %v; send {\"source\": ..., \"table\": ...} or {\"view\": ...}", err))
		return
	}
	if (req.View == "") == (req.Source == "" && req.Table == "") || (req.View == "" && (req.Source == "" || req.Table == "")) {
		writeError(w, http.StatusBadRequest, "send either a source and a table, {\"source\": \"orders\", \"table\": \"public.orders\"}, or a view, {\"view\": \"order_history\"}")
		return
	}
	if s.opts.Snapshots == nil {
		writeError(w, http.StatusNotImplemented, "ad-hoc snapshots of a running source are not available in this projector; "+
			"rebuild the view instead (POST /v1/views/{view}/rebuild), which takes a fresh snapshot of its sources")
		return
	}
	if err := s.opts.Snapshots.Snapshot(r.Context(), req); err != nil {
		s.fail(w, "start a snapshot", err)
		return
	}
	s.opts.Log.Info("admin request", "action", "snapshot", "view", req.View, "source", req.Source, "table", req.Table, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusAccepted, map[string]any{"snapshot": req, "status": "started"})
}

// wait answers once every change of a source up to a position is
// durable and searchable in a view.
func (s *Server) wait(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	view, source := q.Get("view"), q.Get("source")
	if view == "" || source == "" || q.Get("lsn") == "" {
		writeError(w, http.StatusBadRequest, "view, source and lsn are required, e.g. /v1/wait?view=order_history&source=orders&lsn=0/16B3748&timeout=2s")
		return
	}
	lsn, err := capture.ParseLSN(q.Get("lsn"))
	if err != nil || lsn == 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("lsn %q is not a PostgreSQL WAL position; send what pg_current_wal_lsn() returned, e.g. 0/16B3748", q.Get("lsn")))
		return
	}
	timeout := DefaultWaitTimeout
	if t := q.Get("timeout"); t != "" {
		timeout, err = time.ParseDuration(t)
		if err != nil || timeout <= 0 || timeout > MaxWaitTimeout {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("timeout %q is not a duration between 0 and %s; write it like 2s or 500ms", t, MaxWaitTimeout))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	start := time.Now()
	if err := s.durable(ctx, view, source, lsn); err != nil {
		s.waitFailed(w, ctx, view, source, lsn, timeout, "durable", err)
		return
	}
	// Taken after the change was found durable: a refresh that started
	// at or past it shows the change.
	var need Mark
	if s.refresh.mark != nil {
		need = s.refresh.mark(view)
	}
	durable := time.Since(start)
	if err := s.refresh.wait(ctx, view, need); err != nil {
		s.waitFailed(w, ctx, view, source, lsn, timeout, "searchable", err)
		return
	}
	waited := time.Since(start)
	s.opts.Metrics.phases(durable.Seconds(), (waited - durable).Seconds())
	writeJSON(w, http.StatusOK, map[string]any{"view": view, "source": source, "lsn": lsn.String(),
		"waited_seconds": waited.Seconds(), "durable_seconds": durable.Seconds(), "searchable_seconds": (waited - durable).Seconds()})
}

// durable waits until the daemon says every change of source up to lsn
// is durable in view.
func (s *Server) durable(ctx context.Context, view, source string, lsn capture.LSN) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, changed, err := s.opts.Daemon.Reached(view, source, lsn)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		// A quiet stream moves its passed position without a settle: ask
		// again now and then as well.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-tick.C:
		}
	}
}

func (s *Server) waitFailed(w http.ResponseWriter, ctx context.Context, view, source string, lsn capture.LSN, timeout time.Duration, step string, err error) {
	if ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		// Out of time, or the caller gave up (its own deadline): either
		// way nothing failed here.
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("%s of source %s is not %s in view %s after %s; the change may still arrive: wait again or read without it",
			lsn, source, step, view, timeout))
		return
	}
	if step == "searchable" && !isStatusError(err) {
		s.opts.Log.Warn("refresh for a waiting read failed", "view", view, "error", err)
		writeError(w, http.StatusBadGateway, fmt.Sprintf("refresh view %s: %v", view, err))
		return
	}
	s.fail(w, "wait for "+lsn.String()+" of source "+source+" in view "+view, err)
}

func isStatusError(err error) bool {
	for _, e := range []error{ErrNotFound, ErrUnavailable, ErrConflict, ErrNotImplemented} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// fail answers with the status err's kind calls for.
func (s *Server) fail(w http.ResponseWriter, what string, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrUnavailable):
		status = http.StatusServiceUnavailable
	case errors.Is(err, ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, ErrNotImplemented):
		status = http.StatusNotImplemented
	case errors.Is(err, context.Canceled):
		status = http.StatusServiceUnavailable
	default:
		s.opts.Log.Error("admin request failed", "action", what, "error", err)
	}
	writeError(w, status, fmt.Sprintf("%s: %v", what, err))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": strings.TrimSpace(msg)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to tell it
}

// statusWriter remembers the status of an answer, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}
