package bench

import (
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

func TestMedianEventsRow(t *testing.T) {
	run := func(cpu, rate, rss float64, hwm string, caught bool) EventsRow {
		return EventsRow{Path: "p", CPUPer1000: cpu, Rate: rate, Took: time.Duration(rate) * time.Second, PeakRSS: rss, VmHWM: hwm, CaughtUp: caught}
	}
	tests := []struct {
		name string
		runs []EventsRow
		want EventsRow
	}{
		{name: "one run", runs: []EventsRow{run(0.2, 100, 5, "5 kB", true)},
			want: EventsRow{Path: "p", CPUPer1000: 0.2, CPUMin: 0.2, CPUMax: 0.2, Rate: 100, Took: 100 * time.Second, PeakRSS: 5, VmHWM: "5 kB", CaughtUp: true, Rounds: 1}},
		{name: "two runs: the mean of both, the higher memory", runs: []EventsRow{run(0.3, 100, 5, "5 kB", true), run(0.1, 300, 9, "9 kB", true)},
			want: EventsRow{Path: "p", CPUPer1000: 0.2, CPUMin: 0.1, CPUMax: 0.3, Rate: 200, Took: 200 * time.Second, PeakRSS: 9, VmHWM: "9 kB", CaughtUp: true, Rounds: 2}},
		{name: "three runs: the middle one; one run not caught up marks the path", runs: []EventsRow{
			run(0.5, 100, 1, "1 kB", true), run(0.1, 900, 3, "3 kB", false), run(0.2, 200, 2, "2 kB", true)},
			want: EventsRow{Path: "p", CPUPer1000: 0.2, CPUMin: 0.1, CPUMax: 0.5, Rate: 200, Took: 200 * time.Second, PeakRSS: 3, VmHWM: "3 kB", Rounds: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := gocmp.Diff(tt.want, medianEventsRow(tt.runs)); diff != "" {
				t.Errorf("medianEventsRow (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventsCPURatio(t *testing.T) {
	rep := EventsReport{Rows: []EventsRow{{CPUPer1000: 0.12}, {CPUPer1000: 0.15}}}
	if got := rep.CPURatio(); got < 0.7999 || got > 0.8001 {
		t.Errorf("CPU ratio of 0.12 and 0.15 s per 1k = %v, want 0.8", got)
	}
	rep.RoundRatios = []float64{0.5, 0.9, 0.6}
	if got := rep.CPURatio(); got != 0.6 {
		t.Errorf("CPU ratio of rounds 0.5, 0.9 and 0.6 = %v, want their median 0.6", got)
	}
	if got := (EventsReport{Rows: []EventsRow{{CPUPer1000: 0.12}}}).CPURatio(); got != 0 {
		t.Errorf("CPU ratio of one path = %v, want 0", got)
	}
}
