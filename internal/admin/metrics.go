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

// Metrics are the admin API's: how waits end and how long the visible
// ones took, and how many refreshes they cost.
type Metrics struct {
	waits       *prometheus.CounterVec
	waitSeconds prometheus.Histogram
	refreshes   *prometheus.CounterVec
}

// NewMetrics registers the admin API's metrics on reg, every result at
// zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "projector_admin_waits_total",
			Help: "GET /v1/wait requests by how they ended: visible, timeout, refused (4xx) or failed (5xx)."}, []string{"result"}),
		waitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "projector_admin_wait_seconds",
			Help:    "How long GET /v1/wait requests that answered visible waited.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "projector_admin_refreshes_total",
			Help: "Refreshes of a view's index that waits asked for; one serves every wait pending when it starts."}, []string{"view"}),
	}
	reg.MustRegister(m.waits, m.waitSeconds, m.refreshes)
	for _, r := range []string{resultVisible, resultTimeout, resultRefused, resultFailed} {
		m.waits.WithLabelValues(r)
	}
	return m
}

// DeclareView creates view's series at zero.
func (m *Metrics) DeclareView(view string) { m.refreshes.WithLabelValues(view) }

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

func (m *Metrics) refreshed(view string) {
	if m != nil {
		m.refreshes.WithLabelValues(view).Inc()
	}
}
