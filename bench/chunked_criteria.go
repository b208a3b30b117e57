package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Criterion is one done-when condition of a benchmark, checked by the
// benchmark itself so that a run says pass or fail rather than leaving
// the reader to compare numbers with the goal.
type Criterion struct {
	// Name says what is checked and against what bound.
	Name string
	// Got is the measured value as printed.
	Got  string
	Pass bool
}

// Criteria are a benchmark's checked conditions.
type Criteria []Criterion

// Failed lists the names of the criteria that did not hold.
func (cs Criteria) Failed() []string {
	var out []string
	for _, c := range cs {
		if !c.Pass {
			out = append(out, c.Name)
		}
	}
	return out
}

// write renders the criteria as a table of pass and fail.
func (cs Criteria) write(p printer) {
	if len(cs) == 0 {
		return
	}
	p("")
	p("| criterion | measured | result |")
	p("| --- | --- | --- |")
	for _, c := range cs {
		result := "pass"
		if !c.Pass {
			result = "**FAIL**"
		}
		p("| %s | %s | %s |", c.Name, c.Got, result)
	}
}

// verifyResult is what `projector verify` said about a benchmark's views.
type verifyResult struct {
	// Clean is true when verify exited 0: no drift in any view.
	Clean bool
	// Summary is verify's per-view lines (checked, missing, stale, extra).
	Summary string
}

// runVerify runs `projector verify` on the configuration at path, with a
// settle time long enough for the daemon to confirm a backlog on a loaded
// machine. Exit status 1 is drift; any other failure is an error.
func runVerify(ctx context.Context, bin, path string) (verifyResult, error) {
	cmd := exec.CommandContext(ctx, bin, "verify", "-c", path, "--settle", "5m", "--max-drifts", "10", "--log-format", "text")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	res := verifyResult{Clean: err == nil, Summary: strings.TrimSpace(out.String())}
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return res, fmt.Errorf("projector verify: %w\n%s", err, tail(stderr.String(), 2000))
	}
	return res, nil
}

// verifyLine is the first line of verify's summary, for a table cell.
func (v verifyResult) verifyLine() string {
	line, _, _ := strings.Cut(v.Summary, "\n")
	if line == "" {
		return "no output"
	}
	return line
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// Failed lists the done-when conditions the report's benchmarks checked
// and found not met, each named with its benchmark.
func (r *Report) Failed() []string {
	var out []string
	if r.Chunked != nil {
		for _, f := range r.Chunked.Criteria.Failed() {
			out = append(out, "chunked: "+f)
		}
	}
	if r.HugeTxn != nil {
		for _, f := range r.HugeTxn.Criteria.Failed() {
			out = append(out, "hugetxn: "+f)
		}
	}
	return out
}
