package capture

import "github.com/prometheus/client_golang/prometheus"

// Metrics are capture's Prometheus metrics, shared by all streams.
type Metrics struct {
	changes      *prometheus.CounterVec
	snapshotRows *prometheus.CounterVec
	errors       *prometheus.CounterVec
	lossy        *prometheus.CounterVec
}

// NewMetrics creates capture's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projector_changes_total",
			Help: "Row changes captured from the replication stream, by source, table and operation.",
		}, []string{"source", "table", "op"}),
		snapshotRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projector_snapshot_rows_total",
			Help: "Rows copied by initial snapshots, by source and table.",
		}, []string{"source", "table"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projector_errors_total",
			Help: "Errors by pipeline stage; capture errors are followed by a reconnect.",
		}, []string{"stage"}),
		lossy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projector_lossy_values_total",
			Help: "Values captured whose document or index form cannot hold all of them (docs/types.md), by source and reason: not_finite, infinite_date (kept as strings, not indexed), json_repeated_key (earlier values dropped), array_bounds (lower bounds dropped).",
		}, []string{"source", "reason"}),
	}
	for _, stage := range []string{"capture", "transform", "sink", "schema"} {
		m.errors.WithLabelValues(stage) // export zeros, so alerts see the series before the first error
	}
	reg.MustRegister(m.changes, m.snapshotRows, m.errors, m.lossy)
	return m
}

func (m *Metrics) observe(txn *Transaction) {
	for i := range txn.Changes {
		c := &txn.Changes[i]
		m.changes.WithLabelValues(txn.Source, c.Table.String(), string(c.Op)).Inc()
	}
}

// CountError counts an error of a pipeline stage ("capture", "transform",
// "sink", or "schema" for a source schema change under a view) in projector_errors_total, which capture registers because it is
// the first stage.
func (m *Metrics) CountError(stage string) { m.errors.WithLabelValues(stage).Inc() }

// declareSource exports a source's labelled series at zero, so that
// alerts see them before the first value is counted. A nil m (tail, which
// exports no metrics) does nothing.
func (m *Metrics) declareSource(source string) {
	if m == nil {
		return
	}
	for r := range lossyReasons {
		m.lossy.WithLabelValues(source, r.String())
	}
}

// countLossy adds the lossy values a decoder met.
func (m *Metrics) countLossy(source string, n lossyCounts) {
	for r, count := range n {
		if count > 0 {
			m.lossy.WithLabelValues(source, lossyReason(r).String()).Add(float64(count))
		}
	}
}
