package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// BuildProjector builds the projector binary into dir, as `make build`
// does, and returns its path.
func BuildProjector(ctx context.Context, dir string) (string, error) {
	bin := dir + "/projector"
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/projector")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build projector: %w\n%s", err, out)
	}
	return bin, nil
}

// cpuProfile saves a CPU profile of the process over d (whole seconds)
// to path, from its /debug/pprof/profile endpoint (http.pprof), which
// answers requests bearing the process's profiling token.
func (p *process) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	secs := max(1, int(d.Seconds()))
	return p.saveProfile(ctx, fmt.Sprintf("profile?seconds=%d", secs), d, path)
}

// heapProfile saves what the process's heap holds now to path.
func (p *process) heapProfile(ctx context.Context, path string) error {
	return p.saveProfile(ctx, "heap", 0, path)
}

// saveProfile saves the profile /debug/pprof/<name>, which takes d to
// take, to path.
func (p *process) saveProfile(ctx context.Context, name string, d time.Duration, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/%s", p.listen, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.pprofToken)
	client := &http.Client{Timeout: d + 30*time.Second}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return fmt.Errorf("save profile: %w", err)
	}
	return f.Close()
}

// process is a running `projector run`, or another program measured
// beside it.
type process struct {
	name   string // the program, for errors
	cmd    *exec.Cmd
	listen string
	// pprofToken is the bearer token of its /debug/pprof/ endpoints.
	pprofToken string
	done       chan struct{}
	err        error
	client     *http.Client
}

// startProjector runs `projector run -c config`, its output going to logPath.
func startProjector(bin, config, listen, logPath string) (*process, error) {
	p, err := startProcess("projector", logPath, bin, "run", "-c", config, "--log-format", "text")
	if err != nil {
		return nil, err
	}
	p.listen = listen
	return p, nil
}

// startProcess runs bin with args, its output going to logPath; name is
// the program's, for errors.
func startProcess(name, logPath, bin string, args ...string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	p := &process{name: name, done: make(chan struct{}), client: &http.Client{Timeout: 5 * time.Second}}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM and waits for the exit; a process that does not
// exit within a minute is killed.
func (p *process) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within a minute of SIGTERM", p.name)
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// metrics scrapes /metrics.
func (p *process) metrics(ctx context.Context) (metricSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.listen+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	// Uncompressed: the benchmarks scrape many times a second, and
	// compressing every answer would be CPU charged to projector that
	// only the measuring costs.
	req.Header.Set("Accept-Encoding", "identity")
	res, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape projector's metrics: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape projector's metrics: %w", err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("parse projector's metrics: %w", err)
	}
	return families, nil
}

// metricSet is one scrape of /metrics.
type metricSet map[string]*dto.MetricFamily

// sum adds up the series of a counter or gauge whose labels include want.
func (m metricSet) sum(name string, want map[string]string) float64 {
	f := m[name]
	if f == nil {
		return 0
	}
	total := 0.0
	for _, s := range f.Metric {
		if !hasLabels(s, want) {
			continue
		}
		switch {
		case s.Counter != nil:
			total += s.Counter.GetValue()
		case s.Gauge != nil:
			total += s.Gauge.GetValue()
		}
	}
	return total
}

// max is the largest value of the gauge's series.
func (m metricSet) max(name string) float64 {
	f := m[name]
	if f == nil {
		return 0
	}
	best := 0.0
	for _, s := range f.Metric {
		best = max(best, s.GetGauge().GetValue())
	}
	return best
}

// histogram returns the cumulative bucket counts of a histogram, summed
// over its series.
func (m metricSet) histogram(name string) histogram {
	h := histogram{}
	f := m[name]
	if f == nil {
		return h
	}
	for _, s := range f.Metric {
		hs := s.GetHistogram()
		h.count += hs.GetSampleCount()
		if h.bounds == nil {
			for _, b := range hs.Bucket {
				h.bounds = append(h.bounds, b.GetUpperBound())
			}
			h.cumulative = make([]uint64, len(h.bounds))
		}
		for i, b := range hs.Bucket {
			h.cumulative[i] += b.GetCumulativeCount()
		}
	}
	return h
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.Label {
			found = found || l.GetName() == k && l.GetValue() == v
		}
		if !found {
			return false
		}
	}
	return true
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// pollEvery calls f every interval until it returns true or an error, or
// ctx ends.
func pollEvery(ctx context.Context, interval time.Duration, f func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := f()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
