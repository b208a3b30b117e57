package sink

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the writer's Prometheus metrics.
type metrics struct {
	written      *prometheus.CounterVec
	bulkDuration prometheus.Histogram
	retries      prometheus.Counter
	deadLetters  *prometheus.CounterVec
	buffered     prometheus.Gauge
}

// Values of the action label of projector_documents_written_total.
const (
	actionIndex      = "index"
	actionDelete     = "delete"
	actionConflict   = "conflict"
	actionDeadLetter = "dead_letter"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
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
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.written, m.bulkDuration, m.retries, m.deadLetters, m.buffered} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register sink metrics: %w", err)
	}
	return m, nil
}
