package deploy_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// toolsDir is where deploy/tools.sh installs the tools and schemas.
func toolsDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("PROJECTOR_TOOLS"); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatalf("find the tools: %v; set PROJECTOR_TOOLS", err)
	}
	return filepath.Join(home, ".cache", "projector")
}

// tool returns the path of a tool deploy/tools.sh installs, found in its
// cache directory or on PATH. A missing tool fails the test under CI=true
// and skips it, saying how to install it, elsewhere.
func tool(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(toolsDir(t), "bin", name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	missing(t, name+" is not installed")
	return ""
}

// missing fails under CI=true and skips elsewhere, naming the fix.
func missing(t *testing.T, what string) {
	t.Helper()
	msg := what + "; run deploy/tools.sh (make deploy-check does) to install it under " + toolsDir(t)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// run runs a tool in dir with stdin and fails the test with its output
// when it exits non-zero; it returns the output otherwise.
func run(t *testing.T, dir string, stdin []byte, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", filepath.Base(name), args, err, out.String())
	}
	return out.String()
}

// TestPromtoolCheckRules runs promtool check rules on the alerts: syntax,
// PromQL and annotation templates.
func TestPromtoolCheckRules(t *testing.T) {
	promtool := tool(t, "promtool")
	run(t, ".", nil, promtool, "check", "rules", "prometheus/alerts.yml")
}

// TestPromtoolCheckConfig checks the compose stack's Prometheus
// configuration, and through it the rule files it loads.
func TestPromtoolCheckConfig(t *testing.T) {
	promtool := tool(t, "promtool")
	run(t, ".", nil, promtool, "check", "config", "prometheus/prometheus.yml")
}

// TestPromtoolTestRules runs the alerts' unit tests. promtool compares
// every annotation of a firing alert; the descriptions are prose checked by
// TestAlertRules, so the copy of alerts.yml the tests run against has none,
// and each test states the summary it expects.
func TestPromtoolTestRules(t *testing.T) {
	promtool := tool(t, "promtool")
	dir := t.TempDir()
	var root yaml.Node
	if err := yaml.Unmarshal(readFile(t, "prometheus/alerts.yml"), &root); err != nil {
		t.Fatalf("parse prometheus/alerts.yml: %v", err)
	}
	if n := dropKey(&root, "description"); n == 0 {
		t.Fatal("prometheus/alerts.yml: no description annotation found to leave out")
	}
	rules, err := yaml.Marshal(&root)
	if err != nil {
		t.Fatalf("encode the rules: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "prometheus/alerts_test.yml", filepath.Join(dir, "alerts_test.yml"))
	t.Log(run(t, dir, nil, promtool, "test", "rules", "alerts_test.yml"))
}

// dropKey removes every mapping entry named key below n, returning how
// many it removed.
func dropKey(n *yaml.Node, key string) int {
	removed := 0
	if n.Kind == yaml.MappingNode {
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				removed++
				continue
			}
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
		n.Content = kept
	}
	for _, c := range n.Content {
		removed += dropKey(c, key)
	}
	return removed
}

// ruleTests is the part of a promtool test file the checks read.
type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestEveryAlertIsTested checks that promtool's tests see every alert fire
// and every alert stay quiet at least once, so that an alert added without
// a test, or a test of an alert that no longer exists, fails here.
func TestEveryAlertIsTested(t *testing.T) {
	var rf ruleFile
	decodeYAML(t, "prometheus/alerts.yml", &rf)
	var tests ruleTests
	decodeYAML(t, "prometheus/alerts_test.yml", &tests)
	if !slices.Equal(tests.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("prometheus/alerts_test.yml tests rule files %q, want [alerts.yml]", tests.RuleFiles)
	}
	defined := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			defined[r.Alert] = true
		}
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if !defined[a.Alertname] {
				t.Errorf("test %q: alert %s is not in alerts.yml", tc.Name, a.Alertname)
			}
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for name := range defined {
		if !fires[name] {
			t.Errorf("prometheus/alerts_test.yml has no case where %s fires", name)
		}
		if !quiet[name] {
			t.Errorf("prometheus/alerts_test.yml has no case where %s stays quiet", name)
		}
	}
}
