package capture

import (
	"testing"
	"time"
)

// TestStatusDue covers when the receive loop reports a position: a moved
// position waits for statusGap since the last update, so that a backlog
// confirmed transaction by transaction is not answered with an update per
// transaction; the status interval sends one regardless.
func TestStatusDue(t *testing.T) {
	sent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const interval = 10 * time.Second
	tests := []struct {
		name  string
		after time.Duration // since the last update
		pos   LSN           // the last update reported 100
		want  bool
	}{
		{"unchanged, within the interval", time.Second, 100, false},
		{"unchanged, interval passed", interval, 100, true},
		{"moved at once", time.Millisecond, 101, false},
		{"moved just before the gap", statusGap - time.Nanosecond, 200, false},
		{"moved, gap passed", statusGap, 200, true},
		{"moved long ago", 5 * time.Second, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := &session{lastStatus: 100, statusSent: sent, nextStatus: sent.Add(interval)}
			if got := ss.statusDue(sent.Add(tt.after), tt.pos); got != tt.want {
				t.Errorf("statusDue %s after the last update, position %d (last reported 100) = %v, want %v", tt.after, tt.pos, got, tt.want)
			}
		})
	}
}
