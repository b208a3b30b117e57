package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform"
)

// health records the sources that stopped for good and the views that
// cannot be maintained, for /readyz, the metrics and one log line each.
// A source that fails for a reason retrying cannot fix stops alone: the
// other sources, and the views that do not need it, keep running, and
// projector stays up, not ready, until it is restarted after the fix.
type health struct {
	metrics *metrics
	log     *slog.Logger
	// uses lists, for each source, the views that need it.
	uses map[string][]string

	mu      sync.Mutex
	sources map[string]string // stopped source -> why, for /readyz
	views   map[string]string // unavailable view -> why
}

func newHealth(m *metrics, cfg *config.Config, log *slog.Logger) *health {
	uses := map[string][]string{}
	for _, v := range cfg.Views {
		for _, t := range v.Tables() {
			if !slices.Contains(uses[t.Source], v.Name) {
				uses[t.Source] = append(uses[t.Source], v.Name)
			}
		}
	}
	return &health{metrics: m, log: log, uses: uses, sources: map[string]string{}, views: map[string]string{}}
}

// sourceFailed records that source stopped for good because of err, and
// that the views over it are no longer maintained. Only the first failure
// of a source is logged and counted.
func (h *health) sourceFailed(source string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sources[source]; ok {
		return
	}
	reason := capture.FailureReason(err)
	h.sources[source] = readyReason(reason, err)
	h.metrics.sourceFailed.WithLabelValues(source, reason).Set(1)
	h.log.Error("source stopped: retrying cannot fix this; the other sources keep running. Fix it, then restart projector",
		"source", source, "reason", reason, "error", err)
	for _, view := range h.uses[source] {
		h.unavailable(view, fmt.Sprintf("its source %s stopped", source))
	}
}

// viewUnavailable records that view is not maintained, and why.
func (h *health) viewUnavailable(view, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unavailable(view, why)
}

func (h *health) unavailable(view, why string) {
	if _, ok := h.views[view]; ok {
		return
	}
	h.views[view] = why
	h.metrics.viewAvailable.WithLabelValues(view).Set(0)
	h.log.Error("view not maintained; the other views keep running. Fix it, then restart projector", "view", view, "problem", why)
}

// viewRunning records that view is maintained.
func (h *health) viewRunning(view string) { h.metrics.viewAvailable.WithLabelValues(view).Set(1) }

// stopped returns why source stopped, or "" when it did not.
func (h *health) stopped(source string) string {
	if h == nil {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sources[source]
}

// problems lists what makes projector unready, sources first.
func (h *health) problems() []string {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for s, why := range h.sources {
		out = append(out, fmt.Sprintf("source %s: stopped: %s", s, why))
	}
	for v, why := range h.views {
		out = append(out, fmt.Sprintf("view %s: not maintained: %s", v, why))
	}
	slices.Sort(out)
	return out
}

// err joins every failure, for commands that must not go on without
// them, such as `projector rebuild`.
func (h *health) err() error {
	var errs []error
	for _, p := range h.problems() {
		errs = append(errs, errors.New(p))
	}
	return errors.Join(errs...)
}

// readyReason says why a source stopped without connection details
// (user, database, host), which /readyz must not show: the log has the
// whole error.
func readyReason(reason string, err error) string {
	what := map[string]string{
		"authentication":    "the server refused the credentials in its DSN",
		"privilege":         "its role lacks a privilege projector needs",
		"missing_object":    "a database, schema, table or other object it needs does not exist",
		"prerequisite":      "a logical replication prerequisite is missing",
		"slot_lost":         "its replication slot is lost",
		"retries_exhausted": "an error persisted through every retry",
	}[reason]
	if what == "" {
		what = "an error retrying cannot fix"
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		what += " (SQLSTATE " + pgErr.Code + ")"
	}
	return what + "; see the log or run projector check, fix it, then restart projector"
}

// availableViews leaves out of cfg the views that cannot run: those over
// a source that failed to start and those over a table that does not
// exist (dropped while projector was stopped, say). The rest run; each
// view left out is recorded in h.
func availableViews(cfg *config.Config, schema transform.Schema, failed map[string]error, h *health) *config.Config {
	kept := make([]config.View, 0, len(cfg.Views))
	for _, v := range cfg.Views {
		why := ""
		for _, t := range v.Tables() {
			if _, bad := failed[t.Source]; bad {
				why = fmt.Sprintf("its source %s stopped", t.Source)
				break
			}
			if schema[t.Source][capture.Table{Schema: t.Schema, Name: t.Name}] == nil {
				why = fmt.Sprintf("table %s.%s of source %s does not exist: restore it, or remove it from the view", t.Schema, t.Name, t.Source)
				break
			}
		}
		if why != "" {
			h.viewUnavailable(v.Name, why)
			continue
		}
		kept = append(kept, v)
	}
	if len(kept) == len(cfg.Views) {
		return cfg
	}
	run := *cfg
	run.Views = kept
	return &run
}
