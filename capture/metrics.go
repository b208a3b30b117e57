package capture

import "github.com/prometheus/client_golang/prometheus"

// Metrics are capture's Prometheus metrics, shared by all streams.
type Metrics struct {
	changes      *prometheus.CounterVec
	snapshotRows *prometheus.CounterVec
	errors       *prometheus.CounterVec
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
	}
	for _, stage := range []string{"capture", "transform", "sink", "schema"} {
		m.errors.WithLabelValues(stage) // export zeros, so alerts see the series before the first error
	}
	reg.MustRegister(m.changes, m.snapshotRows, m.errors)
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
