package lograte

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestAllow(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type call struct {
		key        string
		after      time.Duration // since start
		ok         bool
		suppressed int
	}
	tests := []struct {
		name  string
		calls []call
	}{
		{"first goes out", []call{{"a", 0, true, 0}}},
		{"repeats within the interval are held and counted", []call{
			{"a", 0, true, 0},
			{"a", time.Second, false, 0},
			{"a", 5 * time.Second, false, 0},
			{"a", 10 * time.Second, true, 2},
			{"a", 11 * time.Second, false, 0},
			{"a", 30 * time.Second, true, 1},
			{"a", 50 * time.Second, true, 0},
		}},
		{"keys are independent", []call{
			{"a", 0, true, 0},
			{"b", time.Second, true, 0},
			{"a", 2 * time.Second, false, 0},
			{"b", 11 * time.Second, true, 0},
			{"a", 12 * time.Second, true, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(10 * time.Second)
			for i, c := range tt.calls {
				ok, suppressed := l.Allow(c.key, start.Add(c.after))
				if ok != c.ok || suppressed != c.suppressed {
					t.Fatalf("call %d (%s at +%s): got %v, %d; want %v, %d", i, c.key, c.after, ok, suppressed, c.ok, c.suppressed)
				}
			}
		})
	}
}

func TestLogAndReset(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	l := New(time.Hour)
	for range 5 {
		l.Log(log, slog.LevelWarn, "orders", "cannot measure", "source", "orders")
	}
	if n := strings.Count(buf.String(), "cannot measure"); n != 1 {
		t.Fatalf("%d lines within the interval, want 1:\n%s", n, buf.String())
	}
	l.Reset("orders")
	l.Log(log, slog.LevelWarn, "orders", "cannot measure", "source", "orders")
	if n := strings.Count(buf.String(), "cannot measure"); n != 2 {
		t.Fatalf("%d lines after Reset, want 2:\n%s", n, buf.String())
	}
	if strings.Contains(buf.String(), "suppressed") {
		t.Errorf("Reset forgets the held-back count, yet a line carries one:\n%s", buf.String())
	}
}
