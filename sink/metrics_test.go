package sink

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetricsOutliveWriters hands one set of metrics to writer after
// writer, as the daemon does when its pipeline starts over: the views'
// series exist at zero before the first writer, nothing is registered
// twice, counts carry over, and what an earlier writer left buffered is
// not counted against the next.
func TestMetricsOutliveWriters(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.DeclareView("orders")
	if n := testutil.CollectAndCount(m.written); n != len(writtenActions) {
		t.Errorf("%d projector_documents_written_total series after DeclareView, want one per action (%d)", n, len(writtenActions))
	}
	if n := testutil.CollectAndCount(m.deadLetters); n != 1 {
		t.Errorf("%d projector_dead_letters_total series after DeclareView, want 1", n)
	}

	first, err := NewWriter(nil, WriterOptions{Metrics: m}, reg, nil)
	if err != nil {
		t.Fatalf("first writer: %v", err)
	}
	first.metrics.written.WithLabelValues("orders", actionIndex).Add(3)
	first.metrics.buffered.Add(1000) // left in flight when the first run stopped
	second, err := NewWriter(nil, WriterOptions{Metrics: m}, reg, nil)
	if err != nil {
		t.Fatalf("second writer with the same metrics: %v", err)
	}
	if second.metrics != m {
		t.Error("the second writer does not count in the metrics it was given")
	}
	if v := testutil.ToFloat64(m.written.WithLabelValues("orders", actionIndex)); v != 3 {
		t.Errorf("documents written = %v after a new writer, want the 3 counted before", v)
	}
	if v := testutil.ToFloat64(m.buffered); v != 0 {
		t.Errorf("projector_sink_buffered_bytes = %v for a new writer, want 0", v)
	}
	m.CountError()
	if v := testutil.ToFloat64(m.errors); v != 1 {
		t.Errorf("projector_errors_total{stage=sink} = %v, want 1", v)
	}
}
