package daemon

import (
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// describingRegisterer remembers the name of every metric registered
// through it, including those whose vectors have no series yet, which a
// registry's Gather does not show.
type describingRegisterer struct {
	prometheus.Registerer
	mu    sync.Mutex
	names []string
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *describingRegisterer) Register(c prometheus.Collector) error {
	if err := r.Registerer.Register(c); err != nil {
		return err
	}
	descs := make(chan *prometheus.Desc)
	go func() {
		c.Describe(descs)
		close(descs)
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range descs {
		if m := descName.FindStringSubmatch(d.String()); m != nil && !slices.Contains(r.names, m[1]) {
			r.names = append(r.names, m[1])
		}
	}
	return nil
}

func (r *describingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

const metricsConfig = `
sources:
  shop:   { dsn: "postgres://u@127.0.0.1:1/shop" }
  people:
    dsn: "postgres://u@127.0.0.1:1/people"
    events:
      note: { message_prefix: notes, fields: { customer_id: bigint }, on: { NoteAdded: { set: { customer_id: .customerId } } } }
sink: { urls: ["http://127.0.0.1:1"] }
views:
  - name: orders
    root: { source: shop, table: orders }
    relations:
      - name: lines
        type: has_many
        source: shop
        table: lines
        on: { id: order_id }
  - name: customers
    root: { source: people, table: customers }
    relations:
      - { name: notes, type: has_many, source: people, entity: note, on: { id: customer_id } }
`

// seriesOf lists one series per combination of the label values given:
// each argument is a label name followed by its values.
func seriesOf(dims ...[]string) []string {
	out := []string{""}
	for _, d := range dims {
		var next []string
		for _, prefix := range out {
			for _, v := range d[1:] {
				next = append(next, prefix+","+d[0]+"="+v)
			}
		}
		out = next
	}
	for i, s := range out {
		pairs := strings.Split(strings.TrimPrefix(s, ","), ",")
		slices.Sort(pairs)
		out[i] = strings.Join(pairs, ",")
	}
	slices.Sort(out)
	return out
}

// tableSeries lists one series per configured table of each source,
// crossed with the other label values given.
func tableSeries(dims ...[]string) []string {
	out := append(seriesOf(append([][]string{{"source", "shop"}, {"table", "public.orders", "public.lines"}}, dims...)...),
		seriesOf(append([][]string{{"source", "people"}, {"table", "public.customers"}}, dims...)...)...)
	slices.Sort(out)
	return out
}

// TestMetricSetExportsZeros starts the metric set for a configuration and
// checks that every projector_ metric exports, before anything happened,
// a series at zero for each configured source, table and view, and for
// every value of its closed labels (operations, actions, reasons, stages).
// want is the list of every projector_ metric: one added without its
// series at zero, or without an entry here, fails the test, as does one
// missing from the README's metrics table.
func TestMetricSetExportsZeros(t *testing.T) {
	cfg := loadConfig(t, metricsConfig)
	reg := prometheus.NewRegistry()
	described := &describingRegisterer{Registerer: reg}
	if _, err := newMetricSet(described, cfg, "test"); err != nil {
		t.Fatalf("newMetricSet: %v", err)
	}
	sources := []string{"source", "shop", "people"}
	views := []string{"view", "orders", "customers"}
	want := map[string][]string{
		"projector_source_lag_bytes":                seriesOf(sources),
		"projector_source_lag_seconds":              seriesOf(sources),
		"projector_slot_retained_wal_bytes":         seriesOf(sources),
		"projector_source_connected":                seriesOf(sources),
		"projector_source_last_message_age_seconds": seriesOf(sources),
		"projector_source_transaction_bytes":        seriesOf(sources),
		"projector_source_spilled_bytes_total":      seriesOf(sources),
		"projector_source_failed": seriesOf(sources, []string{"reason",
			"authentication", "privilege", "missing_object", "prerequisite", "slot_lost", "retries_exhausted", "other"}),
		"projector_view_available":          seriesOf(views),
		"projector_ready":                   {""},
		"projector_standby":                 {""},
		"projector_build_info":              {"goversion=" + runtime.Version() + ",version=test"},
		"projector_changes_total":           tableSeries([]string{"op", "insert", "update", "delete", "truncate"}),
		"projector_snapshot_rows_total":     tableSeries(),
		"projector_snapshot_running":        seriesOf(sources),
		"projector_snapshot_rows_copied":    tableSeries(),
		"projector_snapshot_rows_estimated": tableSeries(),
		"projector_snapshot_chunks":         tableSeries(),
		"projector_lossy_values_total":      seriesOf(sources, []string{"reason", "not_finite", "infinite_date", "json_repeated_key", "array_bounds"}),
		"projector_errors_total":            seriesOf([]string{"stage", "capture", "transform", "sink", "schema"}),
		"projector_events_applied_total":    {""},
		"projector_documents_built_total":   {""},
		"projector_view_lag_seconds":        seriesOf(views),
		"projector_documents_written_total": seriesOf(views,
			[]string{"action", "index", "delete", "conflict", "dead_letter"}),
		"projector_dead_letters_total":    seriesOf(views),
		"projector_bulk_duration_seconds": {""},
		"projector_bulk_retries_total":    {""},
		"projector_sink_buffered_bytes":   {""},
		"projector_events_total": seriesOf([]string{"source", "people"}, []string{"entity", "note"},
			[]string{"type", "NoteAdded", "other"}),
		"projector_event_fold_errors_total": seriesOf([]string{"source", "people"}, []string{"entity", "note"}),
	}
	want["projector_config_reloads_total"] = seriesOf([]string{"result", "ok", "rejected"})
	want["projector_config_last_reload_success_timestamp_seconds"] = []string{""}

	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string][]string{}
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "projector_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var pairs []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(pairs)
			got[name] = append(got[name], strings.Join(pairs, ","))
			if v := value(m); v != 0 && name != "projector_build_info" {
				t.Errorf("%s{%s} = %v at start, want 0", name, strings.Join(pairs, ","), v)
			}
		}
		slices.Sort(got[name])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("series at start (-want +got):\n%s", diff)
	}
	for _, name := range described.names {
		if _, ok := got[name]; strings.HasPrefix(name, "projector_") && !ok {
			t.Errorf("%s is registered but has no series at start: create its series at zero for the configured sources, tables and views in newMetricSet", name)
		}
	}

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range want {
		if !strings.Contains(string(readme), "| `"+name) {
			t.Errorf("%s is not in README's metrics table", name)
		}
	}
}

// value is a sample's value; for a histogram, its count.
func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}
