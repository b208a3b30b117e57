package e2e

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// runBinary runs the built projector with args and the extra environment
// env, and returns its exit status and combined output.
func runBinary(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("run projector %v: %v", args, err)
	return 0, ""
}

// TestCLIExitCodes: the binary exits 2 on a wrong command line, 1 on a
// failure and 0 on success, and says what was wrong.
func TestCLIExitCodes(t *testing.T) {
	cfg := writeConfig(t, `sources:
  menu: { dsn: "postgres://projector@127.0.0.1:1/menu?connect_timeout=1" }
sink:
  urls: ["http://127.0.0.1:9200"]
views:
  - name: dishes
    root: { source: menu, table: dishes }
`)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"slots", "lst", "-c", cfg}, 2, `unknown command "lst" for "projector slots"; did you mean "list"?`},
		{[]string{"slots"}, 2, "projector slots needs a command: drop, list"},
		{[]string{"sync"}, 2, `unknown command "sync" for "projector"`},
		{nil, 2, "projector needs a command"},
		{[]string{"run", "--config-file", cfg}, 2, "unknown flag: --config-file"},
		{[]string{"verify", "-c", cfg, "extra"}, 2, `unknown command "extra" for "projector verify"`},
		{[]string{"rebuild", "-c", cfg}, 2, "name the views to rebuild with --view"},
		{[]string{"run", "-c", cfg + ".missing"}, 1, "read configuration"},
		{[]string{"config", "print", "-c", cfg}, 0, "name: dishes"},
		{[]string{"--help"}, 0, "Examples:"},
		{[]string{"help", "verify"}, 0, "projector verify -c projector.yaml --view order_history"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out := runBinary(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and %q", code, out, tt.code, tt.want)
			}
		})
	}
}

// TestCLIVersion: projector version names the version, the commit and the
// Go version it was built with.
func TestCLIVersion(t *testing.T) {
	code, out := runBinary(t, nil, "version")
	for _, want := range []string{"version:  ", "commit:   ", "go:       " + runtime.Version()} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("version: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}

// TestConfigPrintAndSchema: PROJECTOR_CONFIG names the file; config print
// shows the defaults and no secret; config schema prints the schema.
func TestConfigPrintAndSchema(t *testing.T) {
	cfg := writeConfig(t, `sources:
  menu: { dsn: "postgres://projector:pg-hunter2@127.0.0.1:5433/menu" }
sink:
  urls: ["http://elastic:es-hunter2@127.0.0.1:9200"]
views:
  - name: dishes
    root: { source: menu, table: dishes }
`)
	code, out := runBinary(t, []string{"PROJECTOR_CONFIG=" + cfg}, "config", "print")
	if code != 0 {
		t.Fatalf("config print: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("config print shows a password:\n%s", out)
	}
	for _, want := range []string{cfg, "dsn: postgres://projector:xxxxx@127.0.0.1:5433/menu", "http://elastic:xxxxx@127.0.0.1:9200", "flush_interval: 100ms", "refresh_interval: 1s"} {
		if !strings.Contains(out, want) {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
	code, out = runBinary(t, nil, "config", "schema")
	want, err := os.ReadFile("../config/projector.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || out != string(want) {
		t.Errorf("config schema: exit %d, printed %d bytes, want config/projector.schema.json (%d)", code, len(out), len(want))
	}
}
