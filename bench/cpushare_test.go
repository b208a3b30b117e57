package bench

import (
	"os"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name  string
		stat  string
		comm  string
		ticks int64
		ok    bool
	}{
		{"plain", "4242 (postgres) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 1 0 100 0 0", "postgres", 1290, true},
		{"name with spaces and parentheses", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 10 5 0 0 20 0 1 0", "a (b) c", 15, true},
		{"truncated", "7 (java) S 1 7 7 0 -1 0 0 0 0 0 10", "", 0, false},
		{"no name", "7 java S 1", "", 0, false},
		{"not a number", "7 (java) S 1 7 7 0 -1 0 0 0 0 0 x 5", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			comm, ticks, ok := parseProcStat([]byte(tt.stat))
			if comm != tt.comm || ticks != tt.ticks || ok != tt.ok {
				t.Errorf("parseProcStat(%q) = %q, %d, %v; want %q, %d, %v", tt.stat, comm, ticks, ok, tt.comm, tt.ticks, tt.ok)
			}
		})
	}
}

// TestCPUSamplerCountsItself checks that the CPU time this process burns
// while the sampler runs is counted under projector-bench.
func TestCPUSamplerCountsItself(t *testing.T) {
	if _, _, ok := procCPU(os.Getpid()); !ok {
		t.Fatal("cannot read /proc/self's CPU time; the CPU shares need Linux's /proc")
	}
	s := startCPUSampler()
	_, start, _ := procCPU(os.Getpid())
	x := 0
	for {
		for i := range 1_000_000 {
			x += i
		}
		if _, now, _ := procCPU(os.Getpid()); now-start >= 30 { // 0.3 CPU s
			break
		}
	}
	share := s.finish()
	if got := share.Seconds[cpuBench]; got < 0.3 {
		t.Errorf("projector-bench used %.2f CPU s in the window; at least 0.3 were burnt (x=%d)", got, x)
	}
	if share.Window <= 0 || share.Cores(cpuBench) <= 0 {
		t.Errorf("window %v, cores %.2f; want both positive", share.Window, share.Cores(cpuBench))
	}
}
