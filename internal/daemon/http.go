package daemon

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveHTTP serves /metrics, /healthz and /readyz on ln until ctx ends,
// and the runtime profiles under /debug/pprof/ when pprofToken is set: only
// to requests bearing it, since profiles show internals to whoever can
// reach the port.
func serveHTTP(ctx context.Context, ln net.Listener, reg *prometheus.Registry, pprofToken string, ready func() (bool, string), log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := ready()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	if pprofToken != "" {
		// /debug/pprof/cmdline is left out: the command line may carry
		// what an operator did not mean to publish, even to a token holder.
		mux.Handle("GET /debug/pprof/", bearer(pprofToken, http.HandlerFunc(pprof.Index)))
		mux.Handle("GET /debug/pprof/cmdline", http.NotFoundHandler())
		mux.Handle("GET /debug/pprof/profile", bearer(pprofToken, http.HandlerFunc(pprof.Profile)))
		mux.Handle("GET /debug/pprof/symbol", bearer(pprofToken, http.HandlerFunc(pprof.Symbol)))
		mux.Handle("GET /debug/pprof/trace", bearer(pprofToken, http.HandlerFunc(pprof.Trace)))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("serving metrics and health", "addr", ln.Addr().String())
	select {
	case err := <-done:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("stop http server: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// bearer passes on only requests with "Authorization: Bearer token". The
// comparison takes the same time whatever the request sent, so the token
// cannot be guessed byte by byte.
func bearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="projector pprof"`)
			http.Error(w, "send the token of http.pprof_token_file as Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
