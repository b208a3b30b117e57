package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// MicroBench is one `go test -bench` run of a package, profiled.
type MicroBench struct {
	Package string // import path, relative to the module
	Pattern string // the -bench pattern
	// Profiled is the -bench pattern of the run under the CPU profiler:
	// the stage's own benchmark, without its baseline.
	Profiled string
	// Results are the benchmark lines the run printed.
	Results []MicroResult
	// Top summarises the CPU profile: the functions with the most flat time.
	Top string
}

// MicroResult is one benchmark line.
type MicroResult struct {
	Name                    string
	NsOp, BytesOp, AllocsOp float64
	Extra                   string // custom metrics, as printed
}

// DefaultMicro are the micro benchmarks of the three stages, and of the
// event fold beside the row path it is compared with.
func DefaultMicro() []MicroBench {
	return []MicroBench{
		{Package: "./capture", Pattern: "^(BenchmarkDecode|BenchmarkParseV2Baseline)$", Profiled: "^BenchmarkDecode$"},
		{Package: "./transform", Pattern: "^BenchmarkBuildDocument$", Profiled: "^BenchmarkBuildDocument$"},
		{Package: "./sink", Pattern: "^BenchmarkEncodeBulk$", Profiled: "^BenchmarkEncodeBulk$/^encoder$"},
		{Package: "./transform", Pattern: "^BenchmarkEventsVersusRows$", Profiled: "^BenchmarkEventsVersusRows$/^events$"},
		{Package: "./transform/fold", Pattern: "^BenchmarkFold$", Profiled: "^BenchmarkFold$/^all$"},
	}
}

// RunMicro runs each package's benchmarks with benchtime, then its own
// benchmark again under the CPU profiler, and fills in the results.
func RunMicro(ctx context.Context, dir, benchtime string, benches []MicroBench) ([]MicroBench, error) {
	out := make([]MicroBench, len(benches))
	for i, mb := range benches {
		name := strings.Trim(filepath.Base(mb.Package), "./")
		bin := filepath.Join(dir, name+".test")
		prof := filepath.Join(dir, name+".pprof")
		res, err := goBench(ctx, mb.Package, mb.Pattern, benchtime)
		if err != nil {
			return nil, err
		}
		mb.Results = parseBench(res)
		if _, err := goBench(ctx, mb.Package, mb.Profiled, benchtime, "-o", bin, "-cpuprofile", prof); err != nil {
			return nil, err
		}
		if mb.Top, err = PprofTop(ctx, bin, prof, 6); err != nil {
			return nil, err
		}
		out[i] = mb
	}
	return out, nil
}

func goBench(ctx context.Context, pkg, pattern, benchtime string, extra ...string) ([]byte, error) {
	args := append([]string{"test", "-run", "^$", "-bench", pattern, "-benchmem", "-benchtime", benchtime, "-count", "1"}, extra...)
	out, err := exec.CommandContext(ctx, "go", append(args, pkg)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench %s %s: %w\n%s", pattern, pkg, err, out)
	}
	return out, nil
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func parseBench(out []byte) []MicroResult {
	var results []MicroResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := MicroResult{Name: m[1]}
		fields := strings.Fields(m[2])
		var extra []string
		for j := 0; j+1 < len(fields); j += 2 {
			v, err := strconv.ParseFloat(fields[j], 64)
			if err != nil {
				continue
			}
			switch unit := fields[j+1]; unit {
			case "ns/op":
				r.NsOp = v
			case "B/op":
				r.BytesOp = v
			case "allocs/op":
				r.AllocsOp = v
			default:
				extra = append(extra, fields[j]+" "+unit)
			}
		}
		r.Extra = strings.Join(extra, ", ")
		results = append(results, r)
	}
	return results
}

// PprofTop summarises a CPU profile in one line: the share of own time
// spent in the Go runtime (allocation, garbage collection, scheduling),
// then the n other functions with the most own time. bin may be empty for
// a profile of the running program, which carries its own symbols.
func PprofTop(ctx context.Context, bin, prof string, n int) (string, error) {
	args := []string{"tool", "pprof", "-top", "-nodecount=400"}
	if bin != "" {
		args = append(args, bin)
	}
	out, err := exec.CommandContext(ctx, "go", append(args, prof)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof %s: %w\n%s", prof, err, out)
	}
	return summariseTop(out, n), nil
}

// summariseTop turns pprof's -top table into one line.
func summariseTop(out []byte, n int) string {
	var parts []string
	runtimeShare := 0.0
	inTable := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 5 && f[0] == "flat" {
			inTable = true
			continue
		}
		if !inTable || len(f) < 6 {
			continue
		}
		name := strings.Join(f[5:], " ")
		if strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/runtime/") || strings.HasPrefix(name, "gcWriteBarrier") {
			share, _ := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
			runtimeShare += share
			continue
		}
		if len(parts) < n {
			parts = append(parts, shortFunc(name)+" "+f[1])
		}
	}
	return fmt.Sprintf("Go runtime (allocation, GC, scheduling) %.0f%%; then %s", runtimeShare, strings.Join(parts, ", "))
}

// shortFunc drops the module path from a function name.
func shortFunc(name string) string {
	if i := strings.LastIndex(name, "/"); i >= 0 {
		return name[i+1:]
	}
	return name
}
