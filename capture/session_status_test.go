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

// TestNextWakeWaitsForTheMark covers a position moved by idle progress
// (the server's WAL moving on for other databases) ahead of the recorded
// mark, which moves at most once a second: the receive loop must not wake
// before the mark may move, or every read times out at once and the loop
// spins until it may.
func TestNextWakeWaitsForTheMark(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const interval = 10 * time.Second
	tests := []struct {
		name     string
		floor    LSN           // idle progress; downstream confirmed 100
		recorded time.Duration // since the mark was last recorded
		want     time.Duration // from now
	}{
		{"nothing moved", 100, 0, time.Second},
		{"moved ahead of the mark just recorded", 500, 0, time.Second},
		{"moved ahead of a mark recorded 800ms ago", 500, 800 * time.Millisecond, 200 * time.Millisecond},
		{"moved ahead of a mark recorded long ago", 500, 5 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Stream{opts: Options{Marks: &memMarks{}, StatusInterval: interval}}
			s.confirmed.Store(100)
			ss := &session{stream: s, floor: tt.floor, recorded: 100, lastRecord: now.Add(-tt.recorded),
				lastStatus: 100, statusSent: now.Add(-time.Second), nextStatus: now.Add(interval)}
			got := ss.nextWake(now).Sub(now)
			if tt.want == 0 {
				if got > 0 {
					t.Errorf("next wake in %v, want now (the update is due)", got)
				}
				return
			}
			if got != tt.want {
				t.Errorf("next wake in %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCaughtUpAsksForAReply checks which status update asks the server for
// a keepalive: the first that reports every decoded transaction, and no
// other, so that a stream that caught up follows the server's WAL at once
// without a reply requested on every update.
func TestCaughtUpAsksForAReply(t *testing.T) {
	tests := []struct {
		name       string
		lastStatus LSN // the position the last update reported
		pos        LSN // the position this one reports
		want       bool
	}{
		{name: "reaches the last decoded transaction", lastStatus: 100, pos: 200, want: true},
		{name: "behind the last decoded transaction", lastStatus: 100, pos: 150},
		{name: "the last update had reported it already", lastStatus: 200, pos: 200},
		{name: "past it, reported before", lastStatus: 250, pos: 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss := &session{decodedEnd: 200, lastStatus: tt.lastStatus}
			if got := ss.caughtUp(tt.pos); got != tt.want {
				t.Errorf("caughtUp(%d) after reporting %d, last decoded 200 = %v, want %v", tt.pos, tt.lastStatus, got, tt.want)
			}
		})
	}
}
