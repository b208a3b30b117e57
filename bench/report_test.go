package bench

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The snapshot section sets projector's CPU per run against the search
// engine's while the loader indexed the same documents, with the target.
func TestSnapshotReportsCPUAgainstTheSearchEngine(t *testing.T) {
	tests := []struct {
		name             string
		projector, index float64 // CPU seconds summed over the rounds
		want             string
	}{
		{"above the target", 70, 100, "search engine (the engine's CPU seconds while the loader ran, 50.0 per run): 0.70.\nTarget: ≤ 0.35: **not met**."},
		{"within the target", 30, 100, "search engine (the engine's CPU seconds while the loader ran, 50.0 per run): 0.30.\nTarget: ≤ 0.35: **met**."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Snapshot: &SnapshotReport{
				Opts: SnapshotOptions{Size: ShopSize{Orders: 1000, Customers: 10, ItemsPerOrder: 3}, Rounds: 2},
				Docs: 1000, Projector: 20 * time.Second, Loader: 10 * time.Second, ProjectorCopy: 4 * time.Second,
				ProjectorCPUSeconds: tt.projector, ProjectorBuilt: 1000,
				LoaderCPU: CPUShare{Window: 10 * time.Second, Seconds: map[string]float64{cpuSearch: tt.index}},
			}}
			var b bytes.Buffer
			r.writeSnapshot(func(format string, args ...any) { b.WriteString(fmt.Sprintf(format, args...) + "\n") })
			if !strings.Contains(b.String(), tt.want) {
				t.Errorf("snapshot section lacks %q:\n%s", tt.want, b.String())
			}
		})
	}
}

// The single-table section has a row per load and one for the idle
// minute.
func TestLeanReportRows(t *testing.T) {
	r := &Report{Lean: &LeanReport{
		Opts: LeanOptions{Rows: 200000, Rates: []float64{50}, Duration: time.Minute, Idle: time.Minute, Workers: 4},
		Phases: []StreamPhase{{Name: "50 inserts/s", WrittenTPS: 50, CatchUp: 200 * time.Millisecond, CaughtUp: true,
			P50: [2]float64{0.1, 0.2}, P99: [2]float64{0.2, 0.3}, CPUSeconds: 1.5, CPUPer1000: 0.5, PeakRSS: 100 << 20}},
		LagP50: []float64{0.125}, LagP99: []float64{0.25},
		IdleCPU: 0.4, IdleRSS: 90 << 20, VmHWM: "120000 kB",
	}}
	var b bytes.Buffer
	r.writeLean(func(format string, args ...any) { b.WriteString(fmt.Sprintf(format, args...) + "\n") })
	for _, want := range []string{
		"| 50 inserts/s | 50 | 200ms | 0.1–0.2 s | 0.2–0.3 s | 0.125 s, 0.250 s | 1.50 | 0.500 | 100 MiB |",
		"| idle | 0 | - | - | - | - | 0.40 per minute | - | 90 MiB |",
		"(VmHWM, snapshot included): 120000 kB",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("single-table section lacks %q:\n%s", want, b.String())
		}
	}
}

// With a pgstream baseline the single-table section has a row per
// replicator and load, the ratios projector : pgstream, and the goal's
// verdict at 50 inserts/s.
func TestLeanReportPgstreamBaseline(t *testing.T) {
	r := &Report{Lean: &LeanReport{
		Opts: LeanOptions{Rows: 200000, Rates: []float64{50}, Duration: time.Minute, Workers: 4, BulkActions: 1000},
		Phases: []StreamPhase{{Name: "50 inserts/s", WrittenTPS: 50, CatchUp: 200 * time.Millisecond, CaughtUp: true,
			P50: [2]float64{0.05, 0.1}, P99: [2]float64{0.1, 0.2}, CPUSeconds: 2, CPUPer1000: 0.5, PeakRSS: 100 << 20,
			ProbeLag: []float64{0.03, 0.05, 0.04}}},
		LagP50: []float64{0.075}, LagP99: []float64{0.1}, VmHWM: "120000 kB",
		Pgstream: &PgstreamBaseline{Version: "pgstream version v1.4.1", BatchTimeout: 100 * time.Millisecond, VmHWM: "130000 kB",
			First: []string{"projector"},
			Phases: []BaselinePhase{{Name: "50 inserts/s", WrittenTPS: 50, CatchUp: 300 * time.Millisecond, CaughtUp: true,
				CPUSeconds: 1.6, PeakRSS: 125 << 20, ProbeLag: []float64{0.1, 0.08, 0.12}}}},
	}}
	var b bytes.Buffer
	r.writeLean(func(format string, args ...any) { b.WriteString(fmt.Sprintf(format, args...) + "\n") })
	out := b.String()
	for _, want := range []string{
		"Same-run baseline: pgstream `pgstream version v1.4.1`",
		"| 50 inserts/s | projector | first | 50 | 200ms | 0.040 s | 0.050 s | 3 | 2.00 | 100 MiB |",
		"| 50 inserts/s | pgstream | second | 50 | 300ms | 0.100 s | 0.120 s | 3 | 1.60 | 125 MiB |",
		"| 50 inserts/s | **projector : pgstream** | | | | 0.40 | 0.42 | | 1.25 | 0.80 |",
		"its copy of the table included): 130000 kB.",
		"lag p50 at most pgstream's), on the median ratios of 1 load (CPU 1.25): **not met** (CPU 1.25).",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("single-table section lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "measured once, not by this program") {
		t.Errorf("single-table section cites the hand-measured figures beside a same-run baseline:\n%s", out)
	}
}
