package capture

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestSnapshotRunning holds an initial snapshot at its first rows and
// checks projector_snapshot_running: 0 before the stream starts, 1 while
// the snapshot runs, 0 again once it is done and the stream follows the
// source.
func TestSnapshotRunning(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 1000)
	src := itemsSource(db)
	m := NewMetrics(prometheus.NewRegistry())
	m.DeclareSource(src.Name, src.Tables)
	running := m.snapshotRunning.WithLabelValues(src.Name)
	if v := testutil.ToFloat64(running); v != 0 {
		t.Fatalf("projector_snapshot_running = %v before the stream starts, want 0", v)
	}

	r := newReplica()
	r.gate = make(chan struct{})
	// Chunks of 10 rows fill the snapshot's buffer long before its 1000
	// rows are copied: the copy waits for the gate.
	s := NewStream(src, Options{StatusInterval: 500 * time.Millisecond, MaxBackoff: time.Second, SnapshotChunkRows: 10}, m, testLogger(t))
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

	deadline := time.Now().Add(2 * time.Minute)
	for testutil.ToFloat64(running) != 1 {
		select {
		case err := <-errc:
			errc <- err
			t.Fatalf("stream stopped before its snapshot: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("projector_snapshot_running never became 1")
		}
	}
	time.Sleep(300 * time.Millisecond)
	if v := testutil.ToFloat64(running); v != 1 {
		t.Fatalf("projector_snapshot_running = %v while the snapshot waits, want 1", v)
	}
	close(r.gate)
	r.waitFence(t, db, time.Minute)
	if v := testutil.ToFloat64(running); v != 0 {
		t.Errorf("projector_snapshot_running = %v after the snapshot, want 0", v)
	}
	if v := testutil.ToFloat64(m.snapshotRows.WithLabelValues(src.Name, "public.items")); v != 1000 {
		t.Errorf("projector_snapshot_rows_total{items} = %v, want 1000", v)
	}
}

// TestObserveCountsRuns checks projector_changes_total for a transaction
// whose changes come in runs of one table and operation, and in mixes.
func TestObserveCountsRuns(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	a, b := Table{Schema: "public", Name: "a"}, Table{Schema: "public", Name: "b"}
	ops := []struct {
		table Table
		op    Op
		n     int
	}{{a, Insert, 3}, {b, Insert, 1}, {a, Insert, 2}, {a, Update, 4}, {b, Delete, 1}, {a, Update, 1}}
	txn := &Transaction{Source: "s"}
	for _, o := range ops {
		for range o.n {
			txn.Changes = append(txn.Changes, Change{Table: o.table, Op: o.op})
		}
	}
	m.observe(txn)
	m.observe(&Transaction{Source: "s"})
	want := map[[2]string]float64{
		{"public.a", "insert"}: 5, {"public.b", "insert"}: 1, {"public.a", "update"}: 5, {"public.b", "delete"}: 1,
	}
	for k, n := range want {
		if got := testutil.ToFloat64(m.changes.WithLabelValues("s", k[0], k[1])); got != n {
			t.Errorf("projector_changes_total{table=%q,op=%q} = %v, want %v", k[0], k[1], got, n)
		}
	}
	if got := testutil.CollectAndCount(m.changes); got != len(want) {
		t.Errorf("projector_changes_total has %d series, want %d", got, len(want))
	}
}
