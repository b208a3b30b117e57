package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenURL(t *testing.T) {
	tests := []struct {
		listen, want string
	}{
		{"127.0.0.1:9464", "http://127.0.0.1:9464"},
		{":9464", "http://127.0.0.1:9464"},
		{"0.0.0.0:9464", "http://127.0.0.1:9464"},
		{"[::]:9464", "http://127.0.0.1:9464"},
		{"[::1]:9000", "http://[::1]:9000"},
		{"projector.internal:9464", "http://projector.internal:9464"},
	}
	for _, tt := range tests {
		got, err := listenURL(tt.listen)
		if err != nil || got != tt.want {
			t.Errorf("listenURL(%q) = %q, %v; want %q", tt.listen, got, err, tt.want)
		}
	}
	if _, err := listenURL("9464"); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Errorf("listenURL(9464) error = %v, want one naming http.listen", err)
	}
}

// fakeProjector answers /healthz with 200 and /readyz with status and why.
func fakeProjector(t *testing.T, status int, why string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		fmt.Fprintln(w, why)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// writeHealthConfig writes a configuration whose http.listen is listen.
func writeHealthConfig(t *testing.T, listen string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "projector.yaml")
	data := `sources:
  orders: { dsn: "postgres://postgres@127.0.0.1:5433/orders" }
sink:
  urls: ["http://127.0.0.1:9200"]
http:
  listen: "` + listen + `"
views:
  - name: orders
    root: { source: orders, table: orders }
    fields: [id]
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runHealth runs projector health with args and returns its output and error.
func runHealth(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"health"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestHealthCommand(t *testing.T) {
	ready := fakeProjector(t, http.StatusOK, "ready")
	snapshotting := fakeProjector(t, http.StatusServiceUnavailable, "source orders: initial snapshot not done")
	_, readyPort, _ := net.SplitHostPort(strings.TrimPrefix(ready.URL, "http://"))

	// A port nothing listens on: taken, then released.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name    string
		args    []string
		wantErr string // "" for exit status 0
		wantOut string
	}{
		{"ready, address from the configuration", []string{"-c", writeHealthConfig(t, ":"+readyPort)}, "", "/readyz: ready"},
		{"ready, --url", []string{"--url", ready.URL}, "", "/readyz: ready"},
		{"not ready says why", []string{"--url", snapshotting.URL}, "503 Service Unavailable: source orders: initial snapshot not done", ""},
		{"--live asks /healthz", []string{"--url", snapshotting.URL + "/", "--live"}, "", "/healthz: ok"},
		{"nothing listening", []string{"-c", writeHealthConfig(t, closed)}, "projector does not answer at http://" + closed + "/readyz", ""},
		{"bad configuration", []string{"-c", filepath.Join(t.TempDir(), "missing.yaml")}, "missing.yaml", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runHealth(t, tt.args...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("health %v: %v", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("health %v: error %v, want one containing %q", tt.args, err, tt.wantErr)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("health %v printed %q, want %q in it", tt.args, out, tt.wantOut)
			}
		})
	}
}
