package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestServeHTTPProfilesOnlyWhenAsked(t *testing.T) {
	const token = "s3cret-token"
	tests := []struct {
		name  string
		token string // the server's; "" leaves pprof off
		auth  string // the request's Authorization header
		path  string
		want  int
		body  string
	}{
		{"off", "", "", "/debug/pprof/", http.StatusNotFound, ""},
		{"off even with a token sent", "", "Bearer " + token, "/debug/pprof/profile?seconds=1", http.StatusNotFound, ""},
		{"no token sent", token, "", "/debug/pprof/", http.StatusUnauthorized, "Authorization: Bearer"},
		{"wrong token", token, "Bearer nope", "/debug/pprof/", http.StatusUnauthorized, ""},
		{"token without scheme", token, token, "/debug/pprof/", http.StatusUnauthorized, ""},
		{"wrong token for a profile", token, "Bearer " + token + "x", "/debug/pprof/profile?seconds=1", http.StatusUnauthorized, ""},
		{"named profile without token", token, "", "/debug/pprof/heap", http.StatusUnauthorized, ""},
		{"right token", token, "Bearer " + token, "/debug/pprof/", http.StatusOK, "goroutine"},
		{"right token, named profile", token, "Bearer " + token, "/debug/pprof/goroutine?debug=1", http.StatusOK, "goroutine"},
		{"cmdline never served", token, "Bearer " + token, "/debug/pprof/cmdline", http.StatusNotFound, ""},
		{"readyz needs no token", token, "", "/readyz", http.StatusServiceUnavailable, "starting"},
		{"healthz needs no token", token, "", "/healthz", http.StatusOK, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			ready := func() (bool, string) { return false, "starting" }
			go func() {
				done <- serveHTTP(ctx, ln, prometheus.NewRegistry(), tt.token, ready, slog.New(slog.DiscardHandler))
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serveHTTP: %v", err)
				}
			}()
			req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			client := &http.Client{Timeout: 5 * time.Second}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.want {
				t.Fatalf("GET %s (server token %q, Authorization %q): status %d, want %d", tt.path, tt.token, tt.auth, res.StatusCode, tt.want)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("GET %s: body %q does not contain %q", tt.path, body, tt.body)
			}
			if tt.want == http.StatusUnauthorized && strings.Contains(string(body), token) {
				t.Errorf("GET %s: the refusal shows the token: %q", tt.path, body)
			}
		})
	}
}
