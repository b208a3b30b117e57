package daemon

import (
	"testing"

	"github.com/projector-dev/projector/capture"
)

func TestTrackCatchUp(t *testing.T) {
	type tick struct {
		connected          bool
		current, confirmed capture.LSN
		catchingUp         bool
	}
	tests := []struct {
		name  string
		ticks []tick
	}{
		{"connects behind, then confirms past the position it connected at", []tick{
			{false, 100, 10, false},
			{true, 500, 10, true},
			{true, 900, 400, true},
			{true, 950, 500, false},
			{true, 990, 600, false}, // the server moving on is ordinary lag, not a backlog
		}},
		{"connects caught up", []tick{{true, 100, 100, false}}},
		{"reconnects behind again", []tick{
			{true, 100, 100, false},
			{false, 300, 100, false},
			{true, 800, 100, true},
			{true, 800, 800, false},
		}},
		{"disconnects while catching up", []tick{
			{true, 500, 10, true},
			{false, 600, 20, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &monitor{catchUp: map[string]capture.LSN{}, connected: map[string]bool{}}
			for i, tk := range tt.ticks {
				toGo := m.trackCatchUp("orders", tk.connected, tk.current, tk.confirmed)
				if got := toGo > 0; got != tk.catchingUp {
					t.Fatalf("tick %d: %d bytes to go, want catching up %v", i, toGo, tk.catchingUp)
				}
				if tk.catchingUp && toGo != uint64(m.catchUp["orders"]-tk.confirmed) {
					t.Fatalf("tick %d: %d bytes to go, want %d", i, toGo, m.catchUp["orders"]-tk.confirmed)
				}
			}
		})
	}
}
