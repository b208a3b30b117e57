package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const cliAdminToken = "cli-admin-token"

// fakeAdmin answers the admin API like a daemon with one view, orders,
// which a rebuild moves from _v1 to _v2 after two status requests.
type fakeAdmin struct {
	mu       sync.Mutex
	index    string
	polls    int
	requests []string
}

func (f *fakeAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer "+cliAdminToken {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintln(w, `{"error":"send the token"}`)
		return
	}
	view := map[string]any{"name": "orders", "alias": "orders", "index": f.index, "state": "streaming", "documents": 7,
		"sources": []map[string]any{{"name": "shop", "lag_seconds": 0.25}}}
	switch r.Method + " " + r.URL.Path {
	case "GET /v1/views":
		json.NewEncoder(w).Encode(map[string]any{"views": []any{view}})
	case "GET /v1/views/orders":
		if f.index == "orders_v1+" {
			f.polls++
			view["state"], view["index"] = "rebuilding", "orders_v2"
			if f.polls > 2 {
				f.index = "orders_v2"
				view["state"] = "streaming"
			}
		}
		json.NewEncoder(w).Encode(view)
	case "POST /v1/views/orders/rebuild":
		f.index = "orders_v1+"
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, `{"status":"started"}`)
	case "POST /v1/snapshot":
		w.WriteHeader(http.StatusNotImplemented)
		fmt.Fprintln(w, `{"error":"ad-hoc snapshots of a running source are not available in this projector"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, `{"error":"no view named \"nope\""}`)
	}
}

// writeAdminConfig writes a configuration whose admin API listens on
// listen, or has none when listen is "".
func writeAdminConfig(t *testing.T, listen string) string {
	t.Helper()
	dir := t.TempDir()
	admin := ""
	if listen != "" {
		token := filepath.Join(dir, "admin.token")
		if err := os.WriteFile(token, []byte(cliAdminToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		admin = fmt.Sprintf("admin: { listen: %q, token_file: %q }\n", listen, token)
	}
	path := filepath.Join(dir, "projector.yaml")
	data := `sources:
  shop: { dsn: "postgres://postgres@127.0.0.1:5433/shop" }
sink:
  urls: ["http://127.0.0.1:9200"]
` + admin + `views:
  - name: orders
    root: { source: shop, table: orders }
    fields: [id]
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAdminCommands: status, rebuild and snapshot talk to the daemon's
// admin API, with the CLI's exit statuses.
func TestAdminCommands(t *testing.T) {
	fake := &fakeAdmin{index: "orders_v1"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	cases := []struct {
		name    string
		args    []string
		code    int
		wantOut string
	}{
		{"status", []string{"status", "-c", writeAdminConfig(t, listen)}, exitOK, "orders  streaming  orders_v1  7          shop 0.2s"},
		{"status as JSON", []string{"status", "--json", "-c", writeAdminConfig(t, listen)}, exitOK, `"index": "orders_v1"`},
		{"status without the admin API", []string{"status", "-c", writeAdminConfig(t, "")}, exitFailure, "status needs the admin API: set admin.token_file"},
		{"status with projector stopped", []string{"status", "-c", writeAdminConfig(t, closed)}, exitFailure, "no projector answers on admin.listen"},
		{"status with an argument", []string{"status", "extra", "-c", writeAdminConfig(t, listen)}, exitUsage, "unknown command"},
		{"rebuild through the API waits for the alias", []string{"rebuild", "--view", "orders", "-c", writeAdminConfig(t, listen)}, exitOK, "rebuilt orders: its alias serves orders_v2"},
		{"rebuild of an unknown view", []string{"rebuild", "--view", "nope", "-c", writeAdminConfig(t, listen)}, exitFailure, "404 Not Found"},
		{"snapshot not available", []string{"snapshot", "--view", "orders", "-c", writeAdminConfig(t, listen)}, exitFailure, "501 Not Implemented"},
		{"snapshot needs a table or a view", []string{"snapshot", "--source", "shop", "-c", writeAdminConfig(t, listen)}, exitUsage, "name a table with --source and --table, or a view with --view"},
		{"snapshot without the admin API", []string{"snapshot", "--view", "orders", "-c", writeAdminConfig(t, "")}, exitFailure, "snapshot needs the admin API"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			root := newRootCommand()
			root.SetOut(&out)
			code := execute(context.Background(), root, c.args, &out)
			if code != c.code || !strings.Contains(out.String(), c.wantOut) {
				t.Errorf("projector %v: exit %d, output:\n%s\nwant exit %d and %q", c.args, code, out.String(), c.code, c.wantOut)
			}
		})
	}
	for _, r := range fake.requests {
		if strings.Contains(r, "token") {
			t.Errorf("a request carries the token in its path: %s", r)
		}
	}
}
