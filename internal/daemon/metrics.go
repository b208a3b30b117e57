package daemon

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
)

// metricSet is every stage's metrics, created once per process with the
// labelled series the configuration names (sources, tables, views, and
// the closed sets of operations, actions and reasons) at zero, so that
// dashboards and alerts see them from the start: an alert on increase()
// of a series that only appears with its first count misses that count.
// Each stage owns its metrics, its share of projector_errors_total
// included.
type metricSet struct {
	daemon    *metrics
	capture   *capture.Metrics
	transform *transform.Metrics
	sink      *sink.Metrics
	reload    *reloadMetrics
}

func newMetricSet(reg prometheus.Registerer, cfg *config.Config, version string) (*metricSet, error) {
	set := &metricSet{daemon: newMetrics(reg, version), capture: capture.NewMetrics(reg), transform: transform.NewMetrics(reg),
		reload: newReloadMetrics(reg)}
	var err error
	if set.sink, err = sink.NewMetrics(reg); err != nil {
		return nil, err
	}
	used := cfg.TablesBySource()
	for _, name := range cfg.SourceNames {
		set.daemon.declareSource(name, used[name] != nil)
		if used[name] != nil {
			set.capture.DeclareSource(name, CaptureSource(cfg, name).Tables)
		}
	}
	for _, en := range transform.EntitiesOf(cfg) {
		set.transform.DeclareEntity(en.Source, en.Name, en.Types())
	}
	for _, v := range cfg.Views {
		set.daemon.viewAvailable.WithLabelValues(v.Name)
		set.transform.DeclareView(v.Name)
		set.sink.DeclareView(v.Name)
	}
	return set, nil
}

// metrics are the daemon's own: lag and readiness, which only the whole
// process can know, and build information.
type metrics struct {
	lagBytes    *prometheus.GaugeVec
	lagSeconds  *prometheus.GaugeVec
	retainedWAL *prometheus.GaugeVec
	ready       prometheus.Gauge
	// standby is 1 while this process waits, as a standby, for another
	// projector to release the sources: not ready, and rightly so, but
	// not a fault an alert should page for.
	standby prometheus.Gauge
	// connected and lastMessageAge say whether a source's stream can be
	// trusted at all: lag_bytes cannot be measured while its server is
	// unreachable and keeps its last value.
	connected      *prometheus.GaugeVec
	lastMessageAge *prometheus.GaugeVec
	// sourceFailed and viewAvailable say what stopped for good: see health.
	sourceFailed  *prometheus.GaugeVec
	viewAvailable *prometheus.GaugeVec
	// schemaErrors counts the schema changes under the views the monitor
	// finds: the daemon's stage of projector_errors_total.
	schemaErrors prometheus.Counter
}

// errorsHelp is the help of projector_errors_total, which every stage
// declares with its own value of the stage label. It must read the same
// in each: the registry refuses declarations of one name whose help
// differs.
const errorsHelp = "Errors by pipeline stage; capture errors are followed by a reconnect."

func newMetrics(reg prometheus.Registerer, version string) *metrics {
	m := &metrics{
		lagBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_source_lag_bytes",
			Help: "The source server's current WAL position minus the position confirmed durable downstream.",
		}, []string{"source"}),
		lagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_source_lag_seconds",
			Help: "Age of the oldest committed source transaction not yet durable in the index; 0 when caught up; while the source is disconnected, at least the time since its last message.",
		}, []string{"source"}),
		retainedWAL: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_slot_retained_wal_bytes",
			Help: "WAL the source server keeps for projector's replication slot (current position minus restart_lsn).",
		}, []string{"source"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_source_connected",
			Help: "1 while the source's replication stream is connected and streaming; 0 while snapshotting, reconnecting or unreachable.",
		}, []string{"source"}),
		lastMessageAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_source_last_message_age_seconds",
			Help: "Seconds since the source's replication stream last heard from its server (a change or a keepalive); 0 before the first.",
		}, []string{"source"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "projector_ready",
			Help: "1 when every snapshot is done, every source is streaming and lag is under readiness.max_lag.",
		}),
		standby: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "projector_standby",
			Help: "1 while this process runs with --standby and waits for the active projector to release the sources; 0 otherwise.",
		}),
		sourceFailed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_source_failed",
			Help: "1 when the source stopped for a reason retrying cannot fix (the reason label says which); the other sources keep running.",
		}, []string{"source", "reason"}),
		viewAvailable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_view_available",
			Help: "1 while the view is maintained; 0 when it cannot be (a table it needs does not exist, or its source stopped).",
		}, []string{"view"}),
		schemaErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "projector_errors_total",
			Help:        errorsHelp,
			ConstLabels: prometheus.Labels{"stage": "schema"},
		}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "projector_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	info.Set(1)
	reg.MustRegister(m.lagBytes, m.lagSeconds, m.retainedWAL, m.ready, m.standby, m.connected, m.lastMessageAge, m.sourceFailed, m.viewAvailable, m.schemaErrors, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// declareSource exports a source's series at zero: whether it failed, for
// every reason, and, when views use it (streamed says so), its lag and
// connection.
func (m *metrics) declareSource(source string, streamed bool) {
	for _, reason := range capture.FailureReasons {
		m.sourceFailed.WithLabelValues(source, reason)
	}
	if !streamed {
		return
	}
	for _, g := range []*prometheus.GaugeVec{m.lagBytes, m.lagSeconds, m.retainedWAL, m.connected, m.lastMessageAge} {
		g.WithLabelValues(source)
	}
}

// reloadMetrics count the configuration reloads (SIGHUP) and when the
// last one was applied, so that an alert can catch a configuration
// management change that never took effect.
type reloadMetrics struct {
	ok, rejected prometheus.Counter
	lastSuccess  prometheus.Gauge
}

func newReloadMetrics(reg prometheus.Registerer) *reloadMetrics {
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "projector_config_reloads_total",
		Help: "Configuration reloads asked for (SIGHUP) by result: ok (applied) or rejected (the running configuration kept).",
	}, []string{"result"})
	m := &reloadMetrics{ok: reloads.WithLabelValues("ok"), rejected: reloads.WithLabelValues("rejected"),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "projector_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last configuration reload that was applied; 0 before the first.",
		})}
	reg.MustRegister(reloads, m.lastSuccess)
	return m
}
