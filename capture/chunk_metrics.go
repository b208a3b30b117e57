package capture

import "github.com/prometheus/client_golang/prometheus"

// chunkMetrics show how far chunked snapshots are, by source and table.
type chunkMetrics struct {
	rows     *prometheus.GaugeVec
	estimate *prometheus.GaugeVec
	chunks   *prometheus.GaugeVec
}

func newChunkMetrics() chunkMetrics {
	labels := []string{"source", "table"}
	return chunkMetrics{
		rows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_snapshot_rows_copied",
			Help: "Rows of the table copied by its current or last chunked snapshot, kept across restarts, by source and table.",
		}, labels),
		estimate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_snapshot_rows_estimated",
			Help: "The server's estimate of the table's rows when its chunked snapshot started, by source and table.",
		}, labels),
		chunks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_snapshot_chunks",
			Help: "Chunks of the table copied by its current or last chunked snapshot, kept across restarts, by source and table.",
		}, labels),
	}
}

func (m chunkMetrics) register(reg prometheus.Registerer) {
	reg.MustRegister(m.rows, m.estimate, m.chunks)
}

func (m chunkMetrics) declare(source string, t Table) {
	m.rows.WithLabelValues(source, t.String())
	m.estimate.WithLabelValues(source, t.String())
	m.chunks.WithLabelValues(source, t.String())
}

// chunkProgress shows p. A nil m (tail) does nothing.
func (m *Metrics) chunkProgress(source string, p TableProgress) {
	if m == nil {
		return
	}
	t := p.Table.String()
	m.chunks.rows.WithLabelValues(source, t).Set(float64(p.Rows))
	m.chunks.estimate.WithLabelValues(source, t).Set(float64(max(p.Estimate, p.Rows)))
	m.chunks.chunks.WithLabelValues(source, t).Set(float64(p.Chunks))
}
