package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/projector-dev/projector/internal/fooddelivery"
	"github.com/projector-dev/projector/internal/testbed"
)

// chaosOptions place the reference example for a fault.
type chaosOptions = foodOptions

// chaosFixture is the reference example plus what a fault needs to reach.
type chaosFixture struct {
	*foodDelivery
}

// newChaosFixture is newFoodDelivery with the placement of opts.
func newChaosFixture(t *testing.T, opts chaosOptions) *chaosFixture {
	t.Helper()
	return &chaosFixture{foodDelivery: newFoodDeliveryWith(t, opts)}
}

// alias is the index name clients query for view.
func (fx *chaosFixture) alias(view string) string { return fx.search.Index(view) }

// verifyView runs the oracle on one view and fails the test on any drift.
func (fx *chaosFixture) verifyView(t *testing.T, view string) {
	t.Helper()
	verifyViews(t, fx.cfgPath, fx.env, view)
}

// backgroundWorkload is the randomized workload running beside a fault.
// While tolerating is set, a failed change (the application's database
// was down) is logged and the workload carries on with the changes left.
type backgroundWorkload struct {
	tally *fooddelivery.Tally
	done  chan struct{}

	mu         sync.Mutex
	tolerating bool
	failures   []string
	err        error
	finished   time.Time
}

// startWorkload makes chaosOps changes at chaosRate per second, a rate
// projector built with the race detector keeps up with on the test bed,
// so that recovery times measure the fault rather than a backlog.
func startWorkload(t *testing.T, dbs *fooddelivery.DBs) *backgroundWorkload {
	t.Helper()
	w := &backgroundWorkload{tally: &fooddelivery.Tally{}, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	go func() {
		defer close(w.done)
		defer cancel()
		defer w.finish()
		for seed := uint64(7); ctx.Err() == nil; seed++ {
			left := chaosOps - w.tally.Snapshot().Total()
			if left <= 0 {
				return
			}
			_, err := fooddelivery.Workload{Rate: chaosRate, Ops: left, Workers: 4, Seed: seed, Tally: w.tally}.Run(ctx, dbs)
			if err == nil {
				return
			}
			if !w.failed(err) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
	})
	return w
}

// failed records err and reports whether the workload goes on.
func (w *backgroundWorkload) failed(err error) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tolerating {
		w.failures = append(w.failures, err.Error())
		return true
	}
	w.err = err
	return false
}

func (w *backgroundWorkload) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.finished = time.Now()
}

// tolerate says whether failed changes are expected now.
func (w *backgroundWorkload) tolerate(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tolerating = on
}

// over reports whether the workload has stopped making changes.
func (w *backgroundWorkload) over() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// progress is how many changes have been made so far.
func (w *backgroundWorkload) progress() int { return w.tally.Snapshot().Total() }

// wait blocks until the workload is done and fails the test if it failed
// outside a fault or never made some kind of change.
func (w *backgroundWorkload) wait(t *testing.T) fooddelivery.Counts {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(10 * time.Minute):
		t.Fatal("the workload did not finish within 10 minutes")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		t.Fatalf("workload: %v", w.err)
	}
	if len(w.failures) > 0 {
		t.Logf("%d workload runs were cut by the fault, first: %s", len(w.failures), w.failures[0])
	}
	counts := w.tally.Snapshot()
	if missing := counts.Missing(); len(missing) > 0 {
		t.Errorf("the workload never did %v", missing)
	}
	return counts
}

// versionWatch polls a view's alias and records every document version it
// sees, to catch a document going back to an older revision. projector
// writes external versions seeded from the clock, so a document's version
// only grows, even across a delete and re-create or a rebuild into a new
// index version.
type versionWatch struct {
	search *testbed.Search
	alias  string
	stop   chan struct{}
	done   chan struct{}

	mu          sync.Mutex
	seen        map[string]int64
	polls       int
	failures    int
	lastFailure string
	regressions []string
}

// watchVersions starts polling the alias every 200 ms until finish.
func watchVersions(t *testing.T, search *testbed.Search, alias string) *versionWatch {
	w := &versionWatch{search: search, alias: alias, stop: make(chan struct{}), done: make(chan struct{}),
		seen: map[string]int64{}}
	go w.run()
	t.Cleanup(w.halt)
	return w
}

func (w *versionWatch) run() {
	defer close(w.done)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
			w.poll()
		}
	}
}

type versionHits struct {
	Hits struct {
		Hits []struct {
			ID      string      `json:"_id"`
			Index   string      `json:"_index"`
			Version json.Number `json:"_version"`
		} `json:"hits"`
	} `json:"hits"`
}

// poll reads the version of every document the alias serves.
func (w *versionWatch) poll() {
	body, err := w.search.Do("POST", "/"+w.alias+"/_search",
		strings.NewReader(`{"size":10000,"version":true,"_source":false,"sort":["_doc"]}`))
	var res versionHits
	if err == nil {
		err = json.Unmarshal(body, &res)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		// The alias does not exist before the first snapshot starts.
		w.failures++
		w.lastFailure = err.Error()
		return
	}
	w.polls++
	for _, h := range res.Hits.Hits {
		v, err := h.Version.Int64()
		if err != nil {
			w.regressions = append(w.regressions, fmt.Sprintf("%s: unreadable version %q", h.ID, h.Version))
			continue
		}
		if prev, ok := w.seen[h.ID]; ok && v < prev {
			w.regressions = append(w.regressions, fmt.Sprintf("%s went back from version %d to %d (in %s)", h.ID, prev, v, h.Index))
		}
		w.seen[h.ID] = max(v, w.seen[h.ID])
	}
}

func (w *versionWatch) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// finish stops polling and fails the test on any version that went back,
// or when the watch never saw a document.
func (w *versionWatch) finish(t *testing.T) {
	t.Helper()
	w.halt()
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("version watch: %d polls, %d documents seen, %d failed polls", w.polls, len(w.seen), w.failures)
	if w.polls == 0 || len(w.seen) == 0 {
		t.Errorf("the version watch saw no document (last failure: %s)", w.lastFailure)
	}
	for i, r := range w.regressions {
		if i == 20 {
			t.Errorf("... and %d more", len(w.regressions)-20)
			break
		}
		t.Errorf("document version regressed: %s", r)
	}
}

// scrape reads /metrics like process.metrics but reports failure instead
// of failing the test: projector may still be starting or be busy.
func scrape(d *process) map[string]*dto.MetricFamily {
	code, body, err := d.get("/metrics")
	if err != nil || code != 200 {
		return nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil
	}
	return families
}

// faultEnd is the moment a fault ended and projector's counters then.
type faultEnd struct {
	at        time.Time
	changes   map[string]float64 // per source
	documents float64
}

// endOfFault notes the counters of d right after a fault; a process
// started after the fault has none, which counts as zero.
func endOfFault(d *process) faultEnd {
	end := faultEnd{at: time.Now()}
	end.changes, end.documents = progressCounters(scrape(d))
	return end
}

// progressCounters sums the changes captured per source and the documents
// made durable.
func progressCounters(families map[string]*dto.MetricFamily) (map[string]float64, float64) {
	changes := map[string]float64{}
	var docs float64
	if f := families["projector_changes_total"]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "source" {
					changes[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	if f := families["projector_documents_written_total"]; f != nil {
		for _, m := range f.Metric {
			docs += m.GetCounter().GetValue()
		}
	}
	return changes, docs
}

// caughtUp reports whether, since the fault ended, every source delivered
// new changes and new documents became durable, and whether projector is
// ready with every source's oldest undelivered transaction at most a
// second old: under a running workload the lag is rarely exactly zero,
// and right after a fault the lag gauges still show the time before it.
// Once the workload is over there are no new changes to wait for, and the
// lag must be exactly zero instead.
func caughtUp(d *process, end faultEnd, sources int, workloadOver bool) bool {
	if d.exited() {
		d.t.Fatalf("projector exited: %v", d.err)
	}
	code, _, err := d.get("/readyz")
	if err != nil || code != 200 {
		return false
	}
	families := scrape(d)
	changes, docs := progressCounters(families)
	limit := 0.0
	if !workloadOver {
		limit = 1
		if len(changes) < sources || docs <= end.documents {
			return false
		}
		for source, n := range changes {
			if n <= end.changes[source] {
				return false
			}
		}
	}
	f := families["projector_source_lag_seconds"]
	if f == nil || len(f.Metric) < sources {
		return false
	}
	for _, m := range f.Metric {
		if m.GetGauge().GetValue() > limit {
			return false
		}
	}
	return true
}

// recovery waits until projector has caught up with the running workload
// after a fault and returns how long that took from the fault's end.
func recovery(t *testing.T, d *process, end faultEnd, work *backgroundWorkload, within time.Duration) time.Duration {
	t.Helper()
	over := work.over()
	if over {
		t.Logf("the workload ended before this fault did; recovery is judged by the lag alone")
	}
	eventually(t, within, func() bool { return caughtUp(d, end, 4, work.over()) },
		func() string {
			changes, docs := progressCounters(scrape(d))
			return fmt.Sprintf("projector did not catch up after the fault: changes per source %v (at the end of the fault %v), documents written %.0f (then %.0f)",
				changes, end.changes, docs, end.documents)
		})
	took := time.Since(end.at)
	t.Logf("RECOVERY %s: caught up %s after the fault ended", t.Name(), took.Round(10*time.Millisecond))
	return took
}

// drained waits for projector to have delivered everything the finished
// workload did (no committed transaction waits for the index) and logs how
// long after end that was. Lag in bytes is not used: other databases on
// the same servers move the WAL on.
func drained(t *testing.T, d *process, end faultEnd, work *backgroundWorkload) {
	t.Helper()
	eventually(t, 3*time.Minute, func() bool {
		f := scrape(d)["projector_source_lag_seconds"]
		if f == nil || len(f.Metric) == 0 {
			return false
		}
		for _, m := range f.Metric {
			if m.GetGauge().GetValue() != 0 {
				return false
			}
		}
		return true
	}, func() string { return "projector's lag did not go back to 0" })
	work.mu.Lock()
	finished := work.finished
	work.mu.Unlock()
	t.Logf("LAG ZERO %s: %s after the fault ended, %s after the workload ended", t.Name(),
		time.Since(end.at).Round(10*time.Millisecond), time.Since(finished).Round(10*time.Millisecond))
}

// conclude ends a scenario: the workload finishes, projector drains it,
// no document went back to an older revision, verify finds no drift and
// projector stops cleanly.
func (fx *chaosFixture) conclude(t *testing.T, d *process, end faultEnd, work *backgroundWorkload, watch *versionWatch) {
	t.Helper()
	counts := work.wait(t)
	t.Logf("workload: %v", counts)
	drained(t, d, end, work)
	watch.finish(t)
	fx.verify(t)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}
