package capture

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestSilentConnection: a network that drops every packet without a reset
// leaves the replication connection open and silent. The stream must give
// it up within the receive timeout, show a growing lag meanwhile, and
// resume without loss or duplicates once packets flow again.
func TestSilentConnection(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 100)
	u, err := url.Parse(db.DSN())
	if err != nil {
		t.Fatal(err)
	}
	proxy := testbed.NewProxy(t, u.Host)
	u.Host = proxy.Addr()

	const timeout = 3 * time.Second
	r := newReplica()
	src := Source{Name: db.Name, DSN: u.String(), Tables: []Table{{Schema: "public", Name: "items"}, fencesTable}}
	s := NewStream(src, Options{StatusInterval: 500 * time.Millisecond, MaxBackoff: time.Second, ReceiveTimeout: timeout},
		NewMetrics(prometheus.NewRegistry()), testLogger(t))
	r.stream = s
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, Checkpoint{}, r.deliver) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stream stopped: %v", err)
		}
	})
	// A connection that falls silent before the server's first keepalive
	// must still have a last message to count the silence from: the answer
	// to START_REPLICATION.
	waitFor(t, "the stream to connect", s.Connected)
	if s.LastMessage().IsZero() {
		t.Fatal("a connected stream has no last message from the server")
	}
	r.waitFence(t, db, time.Minute)
	if lag := s.LagSeconds(time.Now()); lag != 0 {
		t.Fatalf("lag %.1fs while caught up and connected, want 0", lag)
	}
	// An idle but healthy connection outlives the timeout: the server
	// answers the stream's request for a reply.
	time.Sleep(2 * timeout)
	if !s.Connected() {
		t.Fatal("an idle, healthy replication connection was given up")
	}

	proxy.Blackhole()
	cut := time.Now()
	db.Exec(`INSERT INTO items (id, payload) SELECT g, 'during the outage' FROM generate_series(1000, 1100) g`)
	db.Exec(`UPDATE items SET v = v + 1, payload = 'changed in the outage' WHERE id <= 20`)
	deadline := cut.Add(timeout + 2*time.Second)
	for s.Connected() {
		if time.Now().After(deadline) {
			t.Fatalf("the stream still counts as connected %s after the network went silent (receive timeout %s)",
				time.Since(cut).Round(time.Millisecond), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	first, lastHeard := s.LagSeconds(time.Now()), s.LastMessage()
	time.Sleep(time.Second)
	second := s.LagSeconds(time.Now())
	if first < timeout.Seconds()/2 || second < first+0.9 {
		t.Fatalf("lag while the server is unreachable: %.2fs, then %.2fs a second later; want it growing from at least %.1fs",
			first, second, timeout.Seconds()/2)
	}
	// A message already in flight when the network went silent may be
	// noted just after cut; once the stream gave up, nothing more is.
	if last := s.LastMessage(); last.IsZero() || !last.Equal(lastHeard) || last.After(cut.Add(timeout/2)) {
		t.Errorf("last message at %v (%v when the stream gave up), want one before the network went silent at %v and none since",
			last, lastHeard, cut)
	}

	proxy.Restore()
	r.waitFence(t, db, time.Minute)
	r.compare(t, db)
	waitFor(t, "the lag to return to 0 once everything is confirmed", func() bool { return s.LagSeconds(time.Now()) == 0 })
}
