package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

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

// TestMonitorUnreachableSource: a source whose server cannot be reached
// is named on /readyz without its user, database or address, its warning
// is logged once however often it is measured, and its series say it is
// not connected.
func TestMonitorUnreachableSource(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connecting is refused at once

	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	reg := prometheus.NewRegistry()
	src := capture.Source{Name: "orders", DSN: "postgres://secretuser@" + addr + "/secretdb?connect_timeout=2"}
	s := capture.NewStream(src, capture.Options{}, capture.NewMetrics(reg), log)
	m := &monitor{
		streams:    []*capture.Stream{s},
		checkpoint: func(string) (capture.Checkpoint, error) { return capture.Checkpoint{SnapshotDone: true}, nil },
		rebuilding: func() []string { return nil },
		metrics:    newMetrics(reg, "test"),
		log:        log,
	}
	m.init()
	for range 5 {
		m.measure(context.Background())
	}

	ready, reason := m.status()
	if ready {
		t.Fatal("ready with an unreachable source")
	}
	if !strings.Contains(reason, "source orders") {
		t.Errorf("/readyz does not name the source: %q", reason)
	}
	for _, secret := range []string{"secretuser", "secretdb", addr} {
		if strings.Contains(reason, secret) {
			t.Errorf("/readyz shows %q: %q", secret, reason)
		}
	}
	if n := strings.Count(logged.String(), "cannot measure source lag"); n != 1 {
		t.Errorf("%d warnings for 5 measurements within %s, want 1:\n%s", n, warnEvery, logged.String())
	}
	if got := testutil.ToFloat64(m.metrics.connected.WithLabelValues("orders")); got != 0 {
		t.Errorf("projector_source_connected = %v, want 0", got)
	}
	if n := testutil.CollectAndCount(m.metrics.lastMessageAge); n != 1 {
		t.Errorf("%d projector_source_last_message_age_seconds series, want 1 (exported at zero)", n)
	}
}

// TestMonitorStateStoreFailure: a state store that cannot write makes
// projector not ready, saying why.
func TestMonitorStateStoreFailure(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := &monitor{
		checkpoint: func(string) (capture.Checkpoint, error) { return capture.Checkpoint{SnapshotDone: true}, nil },
		stateErr: func() error {
			return errors.New("state store cannot write to /var/lib/projector: no space left on device")
		},
		rebuilding: func() []string { return nil },
		metrics:    newMetrics(reg, "test"),
		log:        slog.New(slog.DiscardHandler),
	}
	m.init()
	m.measure(context.Background())
	ready, reason := m.status()
	if ready || !strings.Contains(reason, "no space left on device") {
		t.Errorf("/readyz: ready=%v %q; want not ready, with the store's error", ready, reason)
	}
}
