package capture

import "github.com/prometheus/client_golang/prometheus"

// Metrics are capture's Prometheus metrics, shared by all streams.
type Metrics struct {
	changes         *prometheus.CounterVec
	snapshotRows    *prometheus.CounterVec
	snapshotRunning *prometheus.GaugeVec
	chunks          chunkMetrics
	errors          prometheus.Counter
	lossy           *prometheus.CounterVec
	// transactionBytes and spilledBytes account for transactions in
	// progress (see spill.go).
	transactionBytes *prometheus.GaugeVec
	spilledBytes     *prometheus.CounterVec
}

// errorsHelp is the help of projector_errors_total, which every stage
// (capture, transform, sink, and the daemon's schema watch) declares with
// its own value of the stage label. It must read the same in each: the
// registry refuses declarations of one name whose help differs.
const errorsHelp = "Errors by pipeline stage; capture errors are followed by a reconnect."

// StreamedOps are the operations projector_changes_total counts: the
// replication stream's, not the snapshot's reads.
var StreamedOps = []Op{Insert, Update, Delete, Truncate}

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
		snapshotRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_snapshot_running",
			Help: "1 while an initial snapshot of the source runs (from creating its slot to its last row), else 0.",
		}, []string{"source"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "projector_errors_total",
			Help:        errorsHelp,
			ConstLabels: prometheus.Labels{"stage": "capture"},
		}),
		lossy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projector_lossy_values_total",
			Help: "Values captured whose document or index form cannot hold all of them (docs/types.md), by source and reason: not_finite, infinite_date (kept as strings, not indexed), json_repeated_key (earlier values dropped), array_bounds (lower bounds dropped).",
		}, []string{"source", "reason"}),
		transactionBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_source_transaction_bytes",
			Help: "Bytes of the source's transactions in progress (received, not yet committed or delivered), in memory and spilled to disk.",
		}, []string{"source"}),
		spilledBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projector_source_spilled_bytes_total",
			Help: "Bytes of large transactions' changes written to spill files under the state directory while they waited for their commit.",
		}, []string{"source"}),
	}
	m.chunks = newChunkMetrics()
	reg.MustRegister(m.changes, m.snapshotRows, m.snapshotRunning, m.errors, m.lossy, m.transactionBytes, m.spilledBytes)
	m.chunks.register(reg)
	return m
}

func (m *Metrics) observe(txn *Transaction) {
	// Changes come in runs of one table and operation (one statement
	// writes thousands of rows): the counter is looked up once a run, not
	// once a change, which cost a label hash and a string per row.
	changes := txn.Changes
	for len(changes) > 0 {
		c := &changes[0]
		n := 1
		for n < len(changes) && changes[n].Op == c.Op && changes[n].Table == c.Table {
			n++
		}
		m.changes.WithLabelValues(txn.Source, c.Table.String(), string(c.Op)).Add(float64(n))
		changes = changes[n:]
	}
}

// DeclareSource exports the labelled series of a source and its tables at
// zero, so that dashboards and alerts see them from the start: an
// increase() over a series that appears at its first count misses that
// count.
func (m *Metrics) DeclareSource(source string, tables []Table) {
	m.declareSource(source)
	m.snapshotRunning.WithLabelValues(source)
	for _, t := range tables {
		for _, op := range StreamedOps {
			m.changes.WithLabelValues(source, t.String(), string(op))
		}
		m.snapshotRows.WithLabelValues(source, t.String())
		m.chunks.declare(source, t)
	}
}

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
	m.transactionBytes.WithLabelValues(source)
	m.spilledBytes.WithLabelValues(source)
}

// snapshotStarted sets projector_snapshot_running of source to 1 and
// returns what sets it back to 0.
func (m *Metrics) snapshotStarted(source string) (done func()) {
	g := m.snapshotRunning.WithLabelValues(source)
	g.Set(1)
	return func() { g.Set(0) }
}

// countLossy adds the lossy values a decoder met.
func (m *Metrics) countLossy(source string, n lossyCounts) {
	for r, count := range n {
		if count > 0 {
			m.lossy.WithLabelValues(source, lossyReason(r).String()).Add(float64(count))
		}
	}
}
