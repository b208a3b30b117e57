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
	tests := []struct {
		pprof bool
		path  string
		want  int
		body  string
	}{
		{false, "/debug/pprof/", http.StatusNotFound, ""},
		{false, "/debug/pprof/profile?seconds=1", http.StatusNotFound, ""},
		{true, "/debug/pprof/", http.StatusOK, "goroutine"},
		{true, "/debug/pprof/cmdline", http.StatusOK, ""},
		{false, "/readyz", http.StatusServiceUnavailable, "starting"},
		{true, "/healthz", http.StatusOK, "ok"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.path, "/", "_"), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			ready := func() (bool, string) { return false, "starting" }
			go func() {
				done <- serveHTTP(ctx, ln, prometheus.NewRegistry(), tt.pprof, ready, slog.New(slog.DiscardHandler))
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serveHTTP: %v", err)
				}
			}()
			client := &http.Client{Timeout: 5 * time.Second}
			res, err := client.Get("http://" + ln.Addr().String() + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.want {
				t.Fatalf("GET %s with pprof=%v: status %d, want %d", tt.path, tt.pprof, res.StatusCode, tt.want)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("GET %s: body %q does not contain %q", tt.path, body, tt.body)
			}
		})
	}
}
