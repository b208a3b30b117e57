package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// binary is the projector executable the tests run as a process, built
// once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "projector-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "projector")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/projector")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build projector:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a running `projector run`.
type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
	http string // host:port of /metrics
}

// freePort returns a loopback address nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeConfig writes a configuration file into the test's directory.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "projector.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startDaemon runs projector with the configuration at path; httpAddr must
// be the configuration's http.listen. All output is kept for assertions
// and shown when the test fails.
func startDaemon(t *testing.T, path, httpAddr string, env ...string) *process {
	t.Helper()
	return startRun(t, "projector", path, httpAddr, nil, env)
}

// startRun runs `projector run` with the configuration at path, the extra
// arguments args and the extra environment env; name labels its output.
func startRun(t *testing.T, name, path, httpAddr string, args, env []string) *process {
	t.Helper()
	return startRunOf(t, binary, name, path, httpAddr, args, env)
}

// startRunOf is startRun with the projector executable bin.
func startRunOf(t *testing.T, bin, name, path, httpAddr string, args, env []string) *process {
	t.Helper()
	d := &process{t: t, out: &syncBuffer{}, done: make(chan struct{}), http: httpAddr}
	d.cmd = exec.Command(bin, append([]string{"run", "-c", path, "--log-format", "text"}, args...)...)
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start projector: %v", err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, d.out.String())
		}
	})
	return d
}

// stop sends sig and waits for the process to exit.
func (d *process) stop(sig syscall.Signal, within time.Duration) error {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signal projector: %v", err)
	}
	select {
	case <-d.done:
		return d.err
	case <-time.After(within):
		d.t.Fatalf("projector did not exit within %s of %s", within, sig)
		return nil
	}
}

// exited reports whether the process ended on its own.
func (d *process) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *process) get(path string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.http+path, nil)
	if err != nil {
		return 0, "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// waitReady polls /readyz until it answers 200.
func (d *process) waitReady(within time.Duration) {
	d.t.Helper()
	var last string
	eventually(d.t, within, func() bool {
		if d.exited() {
			d.t.Fatalf("projector exited before it was ready: %v", d.err)
		}
		code, body, err := d.get("/readyz")
		last = fmt.Sprint(code, " ", strings.TrimSpace(body), " ", err)
		return err == nil && code == http.StatusOK
	}, func() string { return "projector not ready: " + last })
}

// metrics scrapes /metrics.
func (d *process) metrics() map[string]*dto.MetricFamily {
	d.t.Helper()
	code, body, err := d.get("/metrics")
	if err != nil || code != http.StatusOK {
		d.t.Fatalf("scrape /metrics: %d %v", code, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		d.t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, msg())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sample returns the value of the series of family name whose labels
// include want, and whether it exists.
func sample(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		if !labelsMatch(m, want) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.Label {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// tailProcess is a running `projector tail`.
type tailProcess struct {
	cmd    *exec.Cmd
	stdout io.Reader
	stderr *syncBuffer
	exited chan struct{} // closed once the process has exited
	err    error         // why it exited, once exited is closed
}

// startTail runs `projector tail` with args until ctx ends or the test
// does, and returns once it is streaming.
func startTail(ctx context.Context, t *testing.T, args ...string) *tailProcess {
	t.Helper()
	p := &tailProcess{cmd: exec.CommandContext(ctx, binary, append([]string{"tail"}, args...)...),
		stderr: &syncBuffer{}, exited: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdout = stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.stop)
	eventually(t, 30*time.Second, func() bool { return strings.Contains(p.stderr.String(), "tailing") },
		func() string { return fmt.Sprintf("tail %v did not start: %s", args, p.stderr) })
	return p
}

// stop kills the process and waits until it has exited.
func (p *tailProcess) stop() {
	p.cmd.Process.Kill() //nolint:errcheck // it may have exited already
	<-p.exited
}
