package transform

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the transform stage's Prometheus metrics.
type Metrics struct {
	events    prometheus.Counter
	documents prometheus.Counter
	viewLag   *prometheus.HistogramVec
	errors    prometheus.Counter
	// folded counts published domain events by source, entity and type;
	// foldErrors those that failed to fold (see fold_apply.go).
	folded     *prometheus.CounterVec
	foldErrors *prometheus.CounterVec
}

// errorsHelp is the help of projector_errors_total, which every stage
// declares with its own value of the stage label. It must read the same
// in each: the registry refuses declarations of one name whose help
// differs.
const errorsHelp = "Errors by pipeline stage; capture errors are followed by a reconnect."

// NewMetrics creates the transform metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "projector_events_applied_total",
			Help: "Domain events applied to the local state.",
		}),
		documents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "projector_documents_built_total",
			Help: "View documents re-derived from the local state and handed to the sink.",
		}),
		viewLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "projector_view_lag_seconds",
			Help: "Time from a source commit to the index acknowledging the view documents it changed.",
			// Fine steps below 2.5 s, where the lag target of most users lies.
			Buckets: []float64{.01, .025, .05, .1, .2, .3, .4, .5, .75, 1, 1.5, 2, 2.5, 5, 10, 30, 60, 300},
		}, []string{"view"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "projector_errors_total",
			Help:        errorsHelp,
			ConstLabels: prometheus.Labels{"stage": "transform"},
		}),
		folded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projector_events_total",
			Help: "Published domain events read from event sources, by entity and event type; types without a reducer are counted as other.",
		}, []string{"source", "entity", "type"}),
		foldErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "projector_event_fold_errors_total",
			Help: "Published domain events that failed to fold into their entity and went to the dead-letter index.",
		}, []string{"source", "entity"}),
	}
	reg.MustRegister(m.events, m.documents, m.viewLag, m.errors, m.folded, m.foldErrors)
	return m
}

// DeclareView exports the view's labelled series at zero, so that
// dashboards and alerts see them from the start.
func (m *Metrics) DeclareView(view string) { m.viewLag.WithLabelValues(view) }

// DeclareEntity exports an entity's labelled series at zero: one per
// event type its reducer knows, "other", and its fold errors.
func (m *Metrics) DeclareEntity(source, entity string, types []string) {
	for _, t := range append(types, otherEventType) {
		m.folded.WithLabelValues(source, entity, t)
	}
	m.foldErrors.WithLabelValues(source, entity)
}

// CountError counts a failure of the view engine that stopped it.
func (m *Metrics) CountError() { m.errors.Inc() }
