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
