package admin

import "github.com/prometheus/client_golang/prometheus"

// The results of a wait, the values of projector_admin_waits_total's
// result label.
const (
	resultVisible = "visible" // 200
	resultTimeout = "timeout" // 504
	resultRefused = "refused" // 4xx: a bad request, an unknown or stopped view
	resultFailed  = "failed"  // 5xx: a refresh failed, the pipeline is not running
)

// The phases of a wait that answered visible, the values of
// projector_admin_wait_phase_seconds's phase label.
const (
	// phaseDurable is from the request to the daemon finding every change
	// up to the position acknowledged by the index: the write's own lag
	// as the waiter sees it.
	phaseDurable = "durable"
	// phaseSearchable is from then to the answer: a running refresh that
	// started too early to serve the wait, and the wait's own refresh.
	phaseSearchable = "searchable"
)

// Metrics are the admin API's: how waits end and how long the visible
// ones took, in which phase, and how many refreshes they cost and how
// long those took.
type Metrics struct {
	waits          *prometheus.CounterVec
	waitSeconds    prometheus.Histogram
	phaseSeconds   *prometheus.HistogramVec
	refreshes      *prometheus.CounterVec
	refreshSeconds prometheus.Histogram
	bulkRefreshes  *prometheus.CounterVec
}

// latencyBuckets are the buckets of the wait and refresh histograms, fine
// around the 0.5 s a wait at 1,000 txn/s should stay under.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60}

// NewMetrics registers the admin API's metrics on reg, every result at
// zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "projector_admin_waits_total",
			Help: "GET /v1/wait requests by how they ended: visible, timeout, refused (4xx) or failed (5xx)."}, []string{"result"}),
		waitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "projector_admin_wait_seconds",
			Help:    "How long GET /v1/wait requests that answered visible waited.",
			Buckets: latencyBuckets}),
		phaseSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "projector_admin_wait_phase_seconds",
			Help: "How long GET /v1/wait requests that answered visible spent in each phase: " +
				"durable (until the index acknowledged the position) and searchable (the refresh after that).",
			Buckets: latencyBuckets}, []string{"phase"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "projector_admin_refreshes_total",
			Help: "Refreshes of a view's index that waits asked for; one serves every wait pending when it starts."}, []string{"view"}),
		refreshSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "projector_admin_refresh_seconds",
			Help:    "How long the refreshes that waits asked for took, from the request to the search engine's answer.",
			Buckets: latencyBuckets}),
		bulkRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "projector_admin_bulk_refreshes_total",
			Help: "Refreshes waits got from a bulk request of the view's index sent with refresh=true, instead of a refresh request of their own."}, []string{"view"}),
	}
	reg.MustRegister(m.waits, m.waitSeconds, m.phaseSeconds, m.refreshes, m.refreshSeconds, m.bulkRefreshes)
	for _, p := range []string{phaseDurable, phaseSearchable} {
		m.phaseSeconds.WithLabelValues(p)
	}
	for _, r := range []string{resultVisible, resultTimeout, resultRefused, resultFailed} {
		m.waits.WithLabelValues(r)
	}
	return m
}

// DeclareView creates view's series at zero.
func (m *Metrics) DeclareView(view string) {
	m.refreshes.WithLabelValues(view)
	m.bulkRefreshes.WithLabelValues(view)
}

// phases records the phases of a wait that answered visible.
func (m *Metrics) phases(durable, searchable float64) {
	if m != nil {
		m.phaseSeconds.WithLabelValues(phaseDurable).Observe(durable)
		m.phaseSeconds.WithLabelValues(phaseSearchable).Observe(searchable)
	}
}

func (m *Metrics) waited(status int, seconds float64) {
	if m == nil {
		return
	}
	result := resultFailed
	switch {
	case status == 200:
		result = resultVisible
		m.waitSeconds.Observe(seconds)
	case status == 504:
		result = resultTimeout
	case status/100 == 4:
		result = resultRefused
	}
	m.waits.WithLabelValues(result).Inc()
}

func (m *Metrics) refreshed(view string, seconds float64) {
	if m != nil {
		m.refreshes.WithLabelValues(view).Inc()
		m.refreshSeconds.Observe(seconds)
	}
}

func (m *Metrics) bulkRefreshed(view string) {
	if m != nil {
		m.bulkRefreshes.WithLabelValues(view).Inc()
	}
}
