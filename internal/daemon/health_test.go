package daemon

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform"
)

func loadConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "projector.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const twoSourcesThreeViews = `
sources:
  shop:   { dsn: "postgres://u@127.0.0.1:1/shop" }
  people: { dsn: "postgres://u@127.0.0.1:1/people" }
sink: { urls: ["http://127.0.0.1:1"] }
views:
  - name: orders
    root: { source: shop, table: orders }
  - name: notes
    root: { source: shop, table: notes }
  - name: customers
    root: { source: people, table: customers }
`

func TestAvailableViews(t *testing.T) {
	table := func(name string) capture.Table { return capture.Table{Schema: "public", Name: name} }
	info := &capture.TableInfo{}
	for _, tc := range []struct {
		name        string
		schema      transform.Schema
		failed      map[string]error
		kept        []string
		unavailable map[string]string
	}{
		{
			name:   "everything there",
			schema: transform.Schema{"shop": {table("orders"): info, table("notes"): info}, "people": {table("customers"): info}},
			kept:   []string{"orders", "notes", "customers"},
		},
		{
			name:        "a dropped table leaves out its view only",
			schema:      transform.Schema{"shop": {table("orders"): info}, "people": {table("customers"): info}},
			kept:        []string{"orders", "customers"},
			unavailable: map[string]string{"notes": "table public.notes of source shop does not exist"},
		},
		{
			name:        "a failed source leaves out its views",
			schema:      transform.Schema{"people": {table("customers"): info}},
			failed:      map[string]error{"shop": errors.New("bad password")},
			kept:        []string{"customers"},
			unavailable: map[string]string{"orders": "its source shop stopped", "notes": "its source shop stopped"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, twoSourcesThreeViews)
			m := newMetrics(prometheus.NewRegistry(), "test")
			h := newHealth(m, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			run := availableViews(cfg, tc.schema, tc.failed, h)
			var kept []string
			for _, v := range run.Views {
				kept = append(kept, v.Name)
			}
			if fmt.Sprint(kept) != fmt.Sprint(tc.kept) {
				t.Errorf("views kept: %v, want %v", kept, tc.kept)
			}
			if len(cfg.Views) != 3 {
				t.Errorf("the configuration itself changed: %d views", len(cfg.Views))
			}
			problems := strings.Join(h.problems(), "\n")
			for view, why := range tc.unavailable {
				if !strings.Contains(problems, "view "+view+": not maintained: "+why) {
					t.Errorf("problems lack view %s (%s):\n%s", view, why, problems)
				}
				if v := testutil.ToFloat64(m.viewAvailable.WithLabelValues(view)); v != 0 {
					t.Errorf("projector_view_available{%s} = %v", view, v)
				}
			}
			if len(tc.unavailable) == 0 && problems != "" {
				t.Errorf("unexpected problems: %s", problems)
			}
		})
	}
}

func TestSourceFailedOnce(t *testing.T) {
	cfg := loadConfig(t, twoSourcesThreeViews)
	m := newMetrics(prometheus.NewRegistry(), "test")
	var log strings.Builder
	h := newHealth(m, cfg, slog.New(slog.NewTextHandler(&log, nil)))
	for _, reason := range capture.FailureReasons {
		if v := testutil.ToFloat64(m.sourceFailed.WithLabelValues("people", reason)); v != 0 {
			t.Errorf("projector_source_failed{people,%s} = %v at start", reason, v)
		}
	}
	err := fmt.Errorf("connect to source %q (postgres://u@db.internal:5432/shop): %w", "shop",
		&pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "u"`})
	h.sourceFailed("shop", err)
	h.sourceFailed("shop", errors.New("a later error"))
	if n := strings.Count(log.String(), "source stopped"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, log.String())
	}
	if v := testutil.ToFloat64(m.sourceFailed.WithLabelValues("shop", "authentication")); v != 1 {
		t.Errorf("projector_source_failed{shop,authentication} = %v, want 1", v)
	}
	why := h.stopped("shop")
	if !strings.Contains(why, "credentials") || !strings.Contains(why, "SQLSTATE 28P01") {
		t.Errorf("reason %q does not say why", why)
	}
	for _, detail := range []string{"db.internal", "5432", `"u"`} {
		if strings.Contains(why, detail) {
			t.Errorf("reason %q shows connection detail %s", why, detail)
		}
	}
	if h.stopped("people") != "" {
		t.Errorf("people stopped too")
	}
	for view, want := range map[string]float64{"orders": 0, "notes": 0, "customers": 1} {
		if view == "customers" {
			h.viewRunning(view)
		}
		if v := testutil.ToFloat64(m.viewAvailable.WithLabelValues(view)); v != want {
			t.Errorf("projector_view_available{%s} = %v, want %v", view, v, want)
		}
	}
	if problems := strings.Join(h.problems(), "\n"); !strings.Contains(problems, "view orders: not maintained: its source shop stopped") {
		t.Errorf("problems do not name the views of the stopped source:\n%s", problems)
	}
}
