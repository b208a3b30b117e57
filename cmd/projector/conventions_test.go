package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/config"
)

// runCLI runs projector in-process with args and returns its exit status
// and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetErr(&errOut)
	code = execute(context.Background(), root, args, &errOut)
	return code, out.String(), errOut.String()
}

// writeFile writes a file into the test's directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// minimalConfig is a valid configuration that needs no server to load.
const minimalConfig = `sources:
  menu: { dsn: "postgres://projector:pg-secret@127.0.0.1:5433/menu" }
sink:
  urls: ["http://127.0.0.1:9200"]
  username: elastic
  password: sink-secret
views:
  - name: dishes
    root: { source: menu, table: dishes }
`

func TestCLIExitStatus(t *testing.T) {
	cfg := writeFile(t, "projector.yaml", minimalConfig)
	tests := []struct {
		args   []string
		code   int
		stderr string // a part of what is printed on stderr
	}{
		{nil, exitUsage, "projector needs a command: check, completion, config, "},
		{[]string{"lst"}, exitUsage, `unknown command "lst" for "projector"`},
		{[]string{"slots", "lst"}, exitUsage, `unknown command "lst" for "projector slots"; did you mean "list"?`},
		{[]string{"slots"}, exitUsage, "projector slots needs a command: drop, list"},
		{[]string{"config", "prnt"}, exitUsage, `did you mean "print"?`},
		{[]string{"run", "--bogus"}, exitUsage, "unknown flag: --bogus\nRun 'projector run --help' for usage."},
		{[]string{"run", "now"}, exitUsage, `unknown command "now" for "projector run"`},
		{[]string{"verify", "--max-drifts", "many"}, exitUsage, `invalid argument "many" for "--max-drifts"`},
		{[]string{"rebuild", "-c", cfg}, exitUsage, "name the views to rebuild with --view"},
		{[]string{"config", "print", "-c", cfg, "--log-level", "loud"}, exitOK, ""},
		{[]string{"tail", "-c", cfg, "--log-level", "loud"}, exitUsage, "--log-level"},
		{[]string{"tail", "-c", cfg, "--format", "bogus"}, exitUsage, "--format"},
		{[]string{"tail", "-c", cfg, "--source", "nosuch"}, exitUsage, `--source "nosuch": no such source`},
		{[]string{"help", "lst"}, exitUsage, `unknown help topic "lst"`},
		{[]string{"help", "slots", "drop"}, exitOK, ""},
		{[]string{"slots", "--help"}, exitOK, ""},
		{[]string{"version"}, exitOK, ""},
		{[]string{"version", "--short"}, exitUsage, "unknown flag: --short"},
		{[]string{"config", "print", "-c", filepath.Join(t.TempDir(), "missing.yaml")}, exitFailure, "read configuration"},
		{[]string{"check", "-c", filepath.Join(t.TempDir(), "missing.yaml")}, exitFailure, "some checks failed"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}

// TestCLIHelpHasExamples: every command's help shows how to call it.
func TestCLIHelpHasExamples(t *testing.T) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "completion" || c.Name() == "help" {
			return // cobra's own
		}
		if c.Example == "" {
			t.Errorf("%q has no examples in its help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand())
	_, out, _ := runCLI(t, "slots", "drop", "--help")
	if !strings.Contains(out, "Examples:\n  projector slots drop") {
		t.Errorf("slots drop --help shows no examples:\n%s", out)
	}
}

func TestCLIVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	for _, want := range []string{"version:  ", "commit:   ", "go:       " + runtime.Version(), "platform: " + runtime.GOOS + "/" + runtime.GOARCH} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("version: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}

// TestCLIConfigEnv: PROJECTOR_CONFIG names the file when -c does not.
func TestCLIConfigEnv(t *testing.T) {
	t.Setenv(configEnv, writeFile(t, "env.yaml", minimalConfig))
	code, out, stderr := runCLI(t, "config", "print")
	if code != exitOK || !strings.Contains(out, "env.yaml") {
		t.Fatalf("config print with %s: exit %d, %s\n%s", configEnv, code, stderr, out)
	}
	other := writeFile(t, "flag.yaml", strings.Replace(minimalConfig, "name: dishes", "name: plates", 1))
	code, out, stderr = runCLI(t, "config", "print", "-c", other)
	if code != exitOK || !strings.Contains(out, "name: plates") {
		t.Fatalf("-c does not win over %s: exit %d, %s\n%s", configEnv, code, stderr, out)
	}
	t.Setenv(configEnv, "")
	code, _, stderr = runCLI(t, "config", "print")
	if code != exitFailure || !strings.Contains(stderr, "projector.yaml") {
		t.Errorf("without %s: exit %d, %s; want the default projector.yaml", configEnv, code, stderr)
	}
}

// TestCLIConfigPrint: the effective configuration shows defaults and no
// secret.
func TestCLIConfigPrint(t *testing.T) {
	code, out, stderr := runCLI(t, "config", "print", "-c", writeFile(t, "projector.yaml", minimalConfig))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(out, "pg-secret") || strings.Contains(out, "sink-secret") {
		t.Errorf("config print shows a secret:\n%s", out)
	}
	for _, want := range []string{"# yaml-language-server: $schema=" + config.SchemaURL, "  bulk_actions: 1000\n", "dsn: postgres://projector:xxxxx@127.0.0.1:5433/menu", "  password: xxxxx\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "config", "schema")
	if code != exitOK || out != string(config.Schema()) {
		t.Errorf("config schema: exit %d, printed %d bytes, want the %d of the schema", code, len(out), len(config.Schema()))
	}
}
