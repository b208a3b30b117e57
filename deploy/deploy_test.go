// Package deploy_test checks the deployment files shipped in deploy/: that
// they parse, that what they reference exists, that the alert rules are
// complete and that every metric they name is one projector exports. No
// container runtime is needed, so `go test ./deploy/...` runs everywhere.
package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/projector-dev/projector/config"
)

// metricRef finds metric names in expressions and in the prose around them.
var metricRef = regexp.MustCompile(`\bprojector_[a-z0-9_]+`)

// TestFilesParse parses every YAML (all documents) and JSON file under
// deploy/, except the local test bed and the chart's templates.
func TestFilesParse(t *testing.T) {
	var seen int
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// The local test bed, and the chart's templates, which are Go
		// templates of YAML (helm lint and helm template check them).
		if d.IsDir() && (path == "local" || path == filepath.Join("helm", "projector", "templates")) {
			return filepath.SkipDir
		}
		switch filepath.Ext(path) {
		case ".yml", ".yaml":
			seen++
			checkYAML(t, path)
		case ".json":
			seen++
			var v any
			if err := json.Unmarshal(readFile(t, path), &v); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk deploy/: %v", err)
	}
	if seen < 8 {
		t.Errorf("found %d YAML and JSON files under deploy/; expected the compose, Prometheus, Grafana and Kubernetes files", seen)
	}
}

func checkYAML(t *testing.T, path string) {
	t.Helper()
	docs := yamlDocs(t, path)
	if len(docs) == 0 {
		t.Errorf("%s: no YAML document", path)
	}
}

// yamlDocs decodes every non-empty document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, len(docs)+1, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return data
}

// decodeYAML decodes a single-document YAML file into v; keys v does not
// declare are ignored.
func decodeYAML(t *testing.T, path string, v any) {
	t.Helper()
	if err := yaml.Unmarshal(readFile(t, path), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// mustExist reports a file that deploy/ refers to but does not hold.
func mustExist(t *testing.T, what, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("%s refers to %s: %v", what, path, err)
	}
}

// ruleFile is a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// TestAlertRules checks the structure Prometheus requires and what an
// operator paged at night needs: a severity, a summary and a description.
func TestAlertRules(t *testing.T) {
	var rf ruleFile
	decodeYAML(t, "prometheus/alerts.yml", &rf)
	if len(rf.Groups) == 0 {
		t.Fatal("prometheus/alerts.yml: no groups")
	}
	names := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			if names[r.Alert] {
				t.Errorf("alert %q is defined twice", r.Alert)
			}
			names[r.Alert] = true
			checkRule(t, r)
		}
	}
	if !names["ProjectorDown"] {
		t.Error("no ProjectorDown alert on the scrape target")
	}
}

func checkRule(t *testing.T, r rule) {
	t.Helper()
	if r.Alert == "" || strings.TrimSpace(r.Expr) == "" {
		t.Errorf("rule %q: alert and expr must be set (expr %q)", r.Alert, r.Expr)
	}
	if r.For != "" {
		if _, err := time.ParseDuration(r.For); err != nil {
			t.Errorf("alert %s: for: %v", r.Alert, err)
		}
	}
	if s := r.Labels["severity"]; s != "warning" && s != "critical" {
		t.Errorf("alert %s: severity %q; use warning or critical", r.Alert, s)
	}
	for _, key := range []string{"summary", "description"} {
		if strings.TrimSpace(r.Annotations[key]) == "" {
			t.Errorf("alert %s: annotation %s is empty", r.Alert, key)
		}
	}
	if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
		t.Errorf("alert %s: unbalanced parentheses in %q", r.Alert, r.Expr)
	}
}

// prometheusConfig is the part of prometheus.yml the checks read.
type prometheusConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// projectorTarget returns the host:port Prometheus scrapes as job projector.
func projectorTarget(t *testing.T) string {
	t.Helper()
	var pc prometheusConfig
	decodeYAML(t, "prometheus/prometheus.yml", &pc)
	for _, f := range pc.RuleFiles {
		mustExist(t, "prometheus/prometheus.yml rule_files", filepath.Join("prometheus", f))
	}
	for _, sc := range pc.ScrapeConfigs {
		if sc.JobName == "projector" && len(sc.StaticConfigs) == 1 && len(sc.StaticConfigs[0].Targets) == 1 {
			return sc.StaticConfigs[0].Targets[0]
		}
	}
	t.Fatal("prometheus/prometheus.yml: no job projector with one target; the alerts select job=\"projector\"")
	return ""
}

// compose is the part of docker-compose.yml the checks read.
type compose struct {
	Services map[string]service `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

type service struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command   []string       `yaml:"command"`
	EnvFile   []string       `yaml:"env_file"`
	Volumes   []string       `yaml:"volumes"`
	Secrets   []string       `yaml:"secrets"`
	DependsOn map[string]any `yaml:"depends_on"`
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	var c compose
	decodeYAML(t, "docker-compose.yml", &c)
	return c
}

// TestComposeReferences checks every file, volume, secret and service the
// compose file names.
func TestComposeReferences(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"pg-orders", "pg-restaurants", "pg-deliveries", "elasticsearch", "projector", "prometheus", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("docker-compose.yml: no service %s", name)
		}
	}
	for name, s := range c.Services {
		checkService(t, c, name, s)
	}
	for name, s := range c.Secrets {
		mustExist(t, "secret "+name, s.File)
	}
}

func checkService(t *testing.T, c compose, name string, s service) {
	t.Helper()
	what := "service " + name
	if s.Image == "" && s.Build == nil {
		t.Errorf("%s: neither image nor build", what)
	}
	if s.Build != nil {
		mustExist(t, what+" build", filepath.Join(s.Build.Context, s.Build.Dockerfile))
	}
	for _, f := range s.EnvFile {
		mustExist(t, what+" env_file", f)
	}
	for _, v := range s.Volumes {
		source, _, _ := strings.Cut(v, ":")
		if strings.HasPrefix(source, ".") || strings.HasPrefix(source, "/") {
			mustExist(t, what+" volume", source)
		} else if _, ok := c.Volumes[source]; !ok {
			t.Errorf("%s: volume %s is not declared under volumes", what, source)
		}
	}
	for _, sec := range s.Secrets {
		if _, ok := c.Secrets[sec]; !ok {
			t.Errorf("%s: secret %s is not declared under secrets", what, sec)
		}
	}
	for dep := range s.DependsOn {
		if _, ok := c.Services[dep]; !ok {
			t.Errorf("%s: depends on unknown service %s", what, dep)
		}
	}
	if strings.HasPrefix(name, "pg-") && !slices.Contains(s.Command, "wal_level=logical") {
		t.Errorf("%s: command %q does not set wal_level=logical", what, s.Command)
	}
}

// mountTarget returns where service mounts source, or "".
func mountTarget(s service, source string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[0] == source {
			return parts[1]
		}
	}
	return ""
}

// TestComposeProjectorConfig loads the compose stack's configuration as the
// container would, and checks it agrees with the image, the volumes and
// Prometheus.
func TestComposeProjectorConfig(t *testing.T) {
	c := loadCompose(t)
	svc := c.Services["projector"]
	env := envFile(t, "compose/demo.env")
	t.Setenv("ELASTIC_PASSWORD", env["ELASTIC_PASSWORD"])
	secrets := t.TempDir()
	for name, s := range c.Secrets {
		copyFile(t, s.File, filepath.Join(secrets, name))
	}
	cfg := loadConfig(t, readFile(t, "compose/projector.yaml"), "/run/secrets/", secrets+"/")

	if got := mountTarget(svc, "./compose/projector.yaml"); got != imageConfigPath(t) {
		t.Errorf("compose mounts the configuration at %q; the image runs with %q", got, imageConfigPath(t))
	}
	if got := mountTarget(svc, "projector-state"); got != cfg.State.Dir {
		t.Errorf("state volume is mounted at %q; state.dir is %q", got, cfg.State.Dir)
	}
	if cfg.Sink.Password != env["ELASTIC_PASSWORD"] {
		t.Error("sink.password does not come from ELASTIC_PASSWORD")
	}
	_, port, err := net.SplitHostPort(projectorTarget(t))
	if err != nil {
		t.Fatalf("projector scrape target: %v", err)
	}
	if !strings.HasSuffix(cfg.HTTP.Listen, ":"+port) {
		t.Errorf("http.listen is %q; Prometheus scrapes port %s", cfg.HTTP.Listen, port)
	}
}

// loadConfig writes a configuration with its secret directory moved from
// -> to, and loads it with config.Load.
func loadConfig(t *testing.T, data []byte, from, to string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "projector.yaml")
	data = bytes.ReplaceAll(data, []byte(from), []byte(to))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write configuration: %v", err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load configuration:\n%v", err)
	}
	return cfg
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, readFile(t, from), 0o600); err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
}

// envFile reads KEY=VALUE lines as docker compose does, skipping comments.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, path)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: %q is not KEY=VALUE", path, line)
		}
		env[key] = value
	}
	return env
}

// dockerfile returns the Dockerfile's instructions, continuation lines
// joined.
func dockerfile(t *testing.T) []string {
	t.Helper()
	text := strings.ReplaceAll(string(readFile(t, "Dockerfile")), "\\\n", " ")
	var lines []string
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}

// imageConfigPath is the configuration file the image's CMD runs with.
func imageConfigPath(t *testing.T) string {
	t.Helper()
	for _, line := range dockerfile(t) {
		rest, ok := strings.CutPrefix(line, "CMD ")
		if !ok {
			continue
		}
		var args []string
		if err := json.Unmarshal([]byte(rest), &args); err != nil {
			t.Fatalf("Dockerfile CMD %s: %v", rest, err)
		}
		if i := slices.Index(args, "-c"); i >= 0 && i+1 < len(args) {
			return args[i+1]
		}
	}
	t.Fatal("Dockerfile: no CMD with -c FILE")
	return ""
}

// TestDockerfileCopiesEveryPackage checks that the image build copies every
// top-level directory holding the daemon's Go code (tests and benchmarks
// aside): there is no
// .dockerignore, so the Dockerfile lists them one by one.
func TestDockerfileCopiesEveryPackage(t *testing.T) {
	var copied []string
	for _, line := range dockerfile(t) {
		if fields := strings.Fields(line); fields[0] == "COPY" && !strings.HasPrefix(fields[1], "--") {
			copied = append(copied, fields[1:len(fields)-1]...)
		}
	}
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatalf("read repository root: %v", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || name == "deploy" || name == "e2e" || name == "bench" || strings.HasPrefix(name, ".") {
			continue
		}
		if hasGoCode(t, filepath.Join("..", name)) && !slices.Contains(copied, name+"/") {
			t.Errorf("Dockerfile does not COPY %s/, which holds Go code the binary may import", name)
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if !slices.Contains(copied, f) {
			t.Errorf("Dockerfile does not COPY %s", f)
		}
	}
}

// hasGoCode reports whether dir holds a non-test Go file at any depth.
func hasGoCode(t *testing.T, dir string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return found
}

// readmeRow is a row of the README's metrics table: | `name{labels}` | type | meaning |
var readmeRow = regexp.MustCompile("(?m)^\\| `(projector_[a-z0-9_]+)[^`]*` \\| ([a-z]+) \\|")

// readmeMetrics reads the metrics the README documents, by name and type.
func readmeMetrics(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range readmeRow.FindAllStringSubmatch(string(readFile(t, "../README.md")), -1) {
		out[m[1]] = m[2]
	}
	if len(out) == 0 {
		t.Fatal("README.md has no metrics table")
	}
	return out
}
