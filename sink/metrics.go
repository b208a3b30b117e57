package sink

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sink's Prometheus metrics. A process creates them once
// (NewMetrics) and hands them to each writer it starts, one at a time, in
// WriterOptions.Metrics, so that its series live as long as the process.
type Metrics struct {
	written      *prometheus.CounterVec
	bulkDuration prometheus.Histogram
	retries      prometheus.Counter
	deadLetters  *prometheus.CounterVec
	buffered     prometheus.Gauge
	errors       prometheus.Counter
}

// Values of the action label of projector_documents_written_total.
const (
	actionIndex      = "index"
	actionDelete     = "delete"
	actionConflict   = "conflict"
	actionDeadLetter = "dead_letter"
)

// writtenActions are every value of the action label.
var writtenActions = []string{actionIndex, actionDelete, actionConflict, actionDeadLetter}

// errorsHelp is the help of projector_errors_total, which every stage
// declares with its own value of the stage label. It must read the same
// in each: the registry refuses declarations of one name whose help
// differs.
const errorsHelp = "Errors by pipeline stage; capture errors are followed by a reconnect."

// NewMetrics creates the sink's metrics and registers them on reg, unless
// reg is nil.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projector_documents_written_total",
			Help: "Document revisions made durable in the search engine, by view and action " +
				"(index, delete, conflict: the index already had this or a newer revision, dead_letter).",
		}, []string{"view", "action"}),
		bulkDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "projector_bulk_duration_seconds",
			Help:    "Duration of bulk requests to the search engine, including failed ones.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "projector_bulk_retries_total",
			Help: "Bulk requests sent again after a connection error, 429 or 5xx, for the whole request or some items.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projector_dead_letters_total",
			Help: "Document revisions the search engine refused, written to the view's dead-letter index.",
		}, []string{"view"}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "projector_sink_buffered_bytes",
			Help: "Bytes of documents accepted by the sink and not yet durable; Submit blocks at the configured limit.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "projector_errors_total",
			Help:        errorsHelp,
			ConstLabels: prometheus.Labels{"stage": "sink"},
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.written, m.bulkDuration, m.retries, m.deadLetters, m.buffered, m.errors} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register sink metrics: %w", err)
	}
	return m, nil
}

// DeclareView exports the view's labelled series at zero, so that
// dashboards and alerts see them from the start: an increase() over a
// series that appears at its first count misses that count.
func (m *Metrics) DeclareView(view string) {
	for _, action := range writtenActions {
		m.written.WithLabelValues(view, action)
	}
	m.deadLetters.WithLabelValues(view)
}

// CountError counts a failure of a writer that stopped it.
func (m *Metrics) CountError() { m.errors.Inc() }
