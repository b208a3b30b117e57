package deploy_test

import (
	"encoding/json"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// registration finds where the code declares a metric: the Name of its
// prometheus options.
var registration = regexp.MustCompile(`Name:\s*"(projector_[a-z0-9_]+)"`)

// codeMetrics returns the metrics the module's non-test Go code declares,
// wherever a package keeps its metrics.go.
func codeMetrics(t *testing.T) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			// Not the daemon: the deployment files, tests, benchmarks,
			// and what is not Go source.
			case ".git", ".testbed", "deploy", "e2e", "bench", "docs", "testdata", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		for _, m := range registration.FindAllStringSubmatch(string(readFile(t, path)), -1) {
			found[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk the module: %v", err)
	}
	if len(found) < 10 {
		t.Fatalf("found only %d metric declarations (Name: \"projector_...\") in the module's Go code: %v", len(found), slices.Sorted(maps.Keys(found)))
	}
	return found
}

// exportedMetrics is every metric projector exports, by name and type
// (empty when only the code names it): the README's metrics table and the
// metrics the code declares.
func exportedMetrics(t *testing.T) map[string]string {
	t.Helper()
	all := readmeMetrics(t)
	for name := range codeMetrics(t) {
		if _, ok := all[name]; !ok {
			t.Errorf("%s is declared in the code but not in README.md's metrics table", name)
			all[name] = ""
		}
	}
	return all
}

// exported maps a series name to the metric that produces it: a histogram
// produces _bucket, _sum and _count series.
func exported(all map[string]string, series string) (string, bool) {
	if _, ok := all[series]; ok {
		return series, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(series, suffix)
		if found && all[base] == "histogram" {
			return base, true
		}
	}
	return "", false
}

// referenced returns the metrics the texts name, reporting (as in what)
// every name projector does not export.
func referenced(t *testing.T, all map[string]string, what string, texts ...string) map[string]bool {
	t.Helper()
	used := map[string]bool{}
	for _, text := range texts {
		for _, ref := range metricRef.FindAllString(text, -1) {
			name, ok := exported(all, ref)
			if !ok {
				t.Errorf("%s: %s is not a metric projector exports", what, ref)
				continue
			}
			used[name] = true
		}
	}
	return used
}

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr       string `json:"expr"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}

const dashboardFile = "grafana/dashboards/projector.json"

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, dashboardFile), &d); err != nil {
		t.Fatalf("parse %s: %v", dashboardFile, err)
	}
	return d
}

// exprs returns the queries of every panel.
func (d dashboard) exprs() []string {
	var out []string
	for _, p := range d.Panels {
		for _, target := range p.Targets {
			out = append(out, target.Expr)
		}
	}
	return out
}

// TestDashboardShowsEveryMetric fails when a metric projector exports (in
// the README's table or declared in the code) has no panel querying it.
func TestDashboardShowsEveryMetric(t *testing.T) {
	all := exportedMetrics(t)
	shown := referenced(t, all, dashboardFile, loadDashboard(t).exprs()...)
	for _, name := range slices.Sorted(maps.Keys(all)) {
		if !shown[name] {
			t.Errorf("%s has no panel querying %s", dashboardFile, name)
		}
	}
}

// TestAlertMetrics checks that the alerts name only metrics projector
// exports, and watch the ones an operator must be paged for.
func TestAlertMetrics(t *testing.T) {
	var rf ruleFile
	decodeYAML(t, "prometheus/alerts.yml", &rf)
	var exprs []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	alerts := referenced(t, exportedMetrics(t), "prometheus/alerts.yml", exprs...)
	for _, name := range []string{
		"projector_source_lag_seconds", "projector_source_lag_bytes", "projector_slot_retained_wal_bytes",
		"projector_errors_total", "projector_dead_letters_total", "projector_ready", "projector_standby",
		"projector_snapshot_running", "projector_snapshot_rows_total",
		"projector_source_failed", "projector_view_available",
	} {
		if !alerts[name] {
			t.Errorf("prometheus/alerts.yml has no alert on %s", name)
		}
	}
}

// TestDashboard checks that the dashboard works against any Prometheus:
// the datasource is a variable (no uid of one Grafana's datasource), every
// query reads through it, and every metric is selected by the job and
// instance variables.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q: both must be set", d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" && (v.Datasource == nil || !isDatasourceVar(v.Datasource.UID)) {
			t.Errorf("variable %s does not query through the datasource variable", v.Name)
		}
		if v.Type == "datasource" && v.Query != "prometheus" {
			t.Errorf("variable %s lists datasources of type %v, want prometheus", v.Name, v.Query)
		}
	}
	for name, typ := range map[string]string{"datasource": "datasource", "job": "query", "instance": "query"} {
		if vars[name] != typ {
			t.Errorf("dashboard has no %s variable %s", typ, name)
		}
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d is used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 || p.Datasource == nil || !isDatasourceVar(p.Datasource.UID) {
			t.Errorf("panel %q has no query or does not use the datasource variable", p.Title)
			continue
		}
		for _, target := range p.Targets {
			if target.Datasource != nil && !isDatasourceVar(target.Datasource.UID) {
				t.Errorf("panel %q: a query uses datasource %q instead of the variable", p.Title, target.Datasource.UID)
			}
			checkSelectors(t, p.Title, target.Expr)
		}
	}
}

func isDatasourceVar(uid string) bool {
	return uid == "${datasource}" || uid == "$datasource"
}

// selector is a metric name with its label matchers.
var selector = regexp.MustCompile(`\bprojector_[a-z0-9_]+(\{[^}]*\})?`)

// checkSelectors checks that every metric an expression reads is selected
// by the job and instance variables.
func checkSelectors(t *testing.T, title, expr string) {
	t.Helper()
	if !metricRef.MatchString(expr) {
		t.Errorf("panel %q: query %q reads no projector metric", title, expr)
	}
	for _, m := range selector.FindAllStringSubmatch(expr, -1) {
		if !strings.Contains(m[1], `job=~"$job"`) || !strings.Contains(m[1], `instance=~"$instance"`) {
			t.Errorf("panel %q: %s is not selected by job=~\"$job\" and instance=~\"$instance\"", title, m[0])
		}
	}
}
