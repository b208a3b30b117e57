package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/lograte"
)

// monitor measures how far each source's documents trail its server and
// decides readiness. It keeps one ordinary connection per source, opened
// lazily and again after failures, so a source that is down shows up as
// not ready rather than stopping the measurements of the others.
type monitor struct {
	streams    []*capture.Stream
	checkpoint func(source string) (capture.Checkpoint, error)
	// stateErr, when set, reports a state store that can no longer write.
	stateErr func() error
	maxLag   time.Duration
	// rebuilding lists views whose rebuilt index does not serve yet.
	rebuilding func() []string
	// backlog reports whether documents of a completed snapshot are still
	// being written.
	backlog func() bool
	// schema, when set, is compared with the sources every schemaEvery;
	// schemaErrors counts each new difference (projector_errors_total of
	// stage "schema").
	schema       *schemaWatch
	schemaErrors prometheus.Counter
	// restart, when set, stops the pipeline so that it starts over with
	// the reason given: a schema change that needs the views rebuilt.
	restart func(reason error)
	// identity, when set, is checked with the schema; replaced hears of
	// each source with a re-created table, which replacing lists for
	// readiness.
	identity   *tableIdentity
	replaced   func(source string)
	replacing  map[string]string
	lastSchema time.Time
	metrics    *metrics
	log        *slog.Logger
	// warnings keeps each source's repeated warnings to one line per
	// warnEvery: the monitor measures four times a second while not ready.
	warnings *lograte.Limiter
	// unreachable lists the sources whose last measurement failed, to say
	// once when they can be measured again.
	unreachable map[string]bool
	// health lists the sources stopped for good, which are not measured,
	// and the views left out: each makes projector unready.
	health *health

	conns map[string]*pgx.Conn
	// catchUp holds, for each source that connected since it last caught
	// up, the server's WAL position when it connected: until the slot has
	// confirmed that far, the source is streaming an older backlog (WAL
	// written while projector was stopped, its own and other databases'
	// alike), which the lag in seconds cannot see before it is decoded.
	catchUp   map[string]capture.LSN
	connected map[string]bool

	// release gives memory back once work is over (see releaseAfterWork).
	release memoryRelease

	mu     sync.Mutex
	ready  bool
	reason string
}

func (m *monitor) run(ctx context.Context, every time.Duration) error {
	m.init()
	m.replacing = map[string]string{}
	defer func() {
		for _, c := range m.conns {
			c.Close(context.Background())
		}
	}()
	// The streams' own gauges move every second even while a measurement
	// waits for a server that does not answer.
	followed := make(chan struct{})
	defer func() { <-followed }()
	go func() {
		defer close(followed)
		m.followStreams(ctx, time.Second)
	}()
	for {
		m.measure(ctx)
		// Not ready, the next measurement comes sooner: a restarted
		// sidecar turns ready as soon as its sources have caught up,
		// not up to a whole interval later.
		wait := every
		if ready, _ := m.status(); !ready {
			wait = min(every, notReadyEvery)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// notReadyEvery is how often the monitor measures while not ready.
const notReadyEvery = 250 * time.Millisecond

// warnEvery is how often the same warning about a source is logged; the
// line says how many were held back in between.
const warnEvery = 30 * time.Second

// init prepares what measurements keep, and creates each source's series
// at zero, so that dashboards and alerts see them before the first
// measurement.
func (m *monitor) init() {
	m.conns = map[string]*pgx.Conn{}
	m.catchUp, m.connected = map[string]capture.LSN{}, map[string]bool{}
	m.warnings, m.unreachable = lograte.New(warnEvery), map[string]bool{}
	for _, s := range m.streams {
		name := s.Source().Name
		for _, g := range []*prometheus.GaugeVec{m.metrics.lagBytes, m.metrics.lagSeconds, m.metrics.retainedWAL,
			m.metrics.connected, m.metrics.lastMessageAge} {
			g.WithLabelValues(name).Set(0)
		}
	}
}

// status is what /readyz answers.
func (m *monitor) status() (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reason == "" {
		return false, "starting"
	}
	return m.ready, m.reason
}

func (m *monitor) measure(ctx context.Context) {
	var problems []string
	copying := false // a source's snapshot is not done
	problems = append(problems, m.health.problems()...)
	for _, s := range m.streams {
		name := s.Source().Name
		if m.health.stopped(name) != "" {
			continue
		}
		lag, connected := m.streamGauges(s, time.Now())
		current, confirmed, err := m.measureServer(ctx, s)
		toGo := uint64(0) // bytes of the backlog the source connected behind
		if err == nil {
			toGo = m.trackCatchUp(name, connected, current, confirmed)
		}
		switch {
		case ctx.Err() != nil:
		case err == nil, errors.Is(err, errNoSlot):
			if m.unreachable[name] {
				delete(m.unreachable, name)
				m.warnings.Reset(name)
				m.log.Info("source lag can be measured again", "source", name)
			}
			if err != nil {
				problems = append(problems, fmt.Sprintf("source %s: no replication slot yet", name))
			}
		default:
			// The error names the user, database and address: the log may
			// say so, /readyz answers whoever can reach the port.
			m.unreachable[name] = true
			m.warnings.Log(m.log, slog.LevelWarn, name, "cannot measure source lag", "source", name, "error", err)
			problems = append(problems, fmt.Sprintf("source %s: cannot query its database to measure lag; the log says why", name))
		}
		cp, err := m.checkpoint(name)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("source %s: %v", name, err))
		case !cp.SnapshotDone:
			copying = true
			problems = append(problems, fmt.Sprintf("source %s: initial snapshot not done", name))
		case !s.Connected():
			problems = append(problems, fmt.Sprintf("source %s: not streaming", name))
		case m.maxLag > 0 && lag > m.maxLag.Seconds():
			problems = append(problems, fmt.Sprintf("source %s: lag %.1fs over %s", name, lag, m.maxLag))
		case toGo > 0:
			problems = append(problems, fmt.Sprintf("source %s: catching up with the WAL written before it connected (%d MB to go)",
				name, max(toGo>>20, 1)))
		}
	}
	if m.stateErr != nil {
		if err := m.stateErr(); err != nil {
			problems = append(problems, "local state: "+err.Error())
		}
	}
	if m.backlog != nil && m.backlog() {
		copying = true
		problems = append(problems, "views: documents of a completed snapshot are still being written")
	}
	m.releaseAfterWork(copying, time.Now())
	if m.schema != nil && time.Since(m.lastSchema) >= schemaEvery {
		m.lastSchema = time.Now()
		m.checkSchema(ctx)
	}
	for _, p := range m.replacing {
		problems = append(problems, p)
	}
	for _, v := range m.rebuilding() {
		problems = append(problems, "view "+v+": rebuilding; queries still see the previous index")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ready = len(problems) == 0
	m.reason = "ready"
	if !m.ready {
		m.reason = strings.Join(problems, "\n")
		m.metrics.ready.Set(0)
	} else {
		m.metrics.ready.Set(1)
	}
}

// schemaEvery is how often the sources' schemas are compared with the
// one projector started with.
const schemaEvery = 10 * time.Second

// checkSchema reports schema changes under the views. They do not make
// projector unready: the other views go on, and a sidecar's readiness
// decides whether its application gets traffic.
func (m *monitor) checkSchema(ctx context.Context) {
	for _, s := range m.streams {
		name := s.Source().Name
		conn := m.conns[name]
		if conn == nil || conn.IsClosed() {
			continue // measureServer reports why
		}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		problems, rebuild, err := m.schema.check(qctx, conn, name)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				m.warnings.Log(m.log, slog.LevelWarn, "schema:"+name, "cannot compare the source's schema with the views", "source", name, "error", err)
			}
			continue
		}
		for range m.schema.report(problems, m.log) {
			m.schemaErrors.Inc()
		}
		if rebuild && m.restart != nil {
			m.restart(&schemaChanged{source: name})
		}
		if m.identity != nil {
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			m.checkIdentity(qctx, conn, name)
			cancel()
		}
	}
}

// trackCatchUp notes the server's WAL position when a source's stream
// connects, forgets it once the slot has confirmed that far, and returns
// how many bytes are still to go (0 when the source is not catching up).
func (m *monitor) trackCatchUp(source string, connected bool, current, confirmed capture.LSN) uint64 {
	if connected && !m.connected[source] {
		m.catchUp[source] = current
	}
	m.connected[source] = connected
	target, ok := m.catchUp[source]
	if ok && (confirmed >= target || !connected) {
		delete(m.catchUp, source)
		return 0
	}
	return diff(target, confirmed)
}

// measureServer reads the server's WAL position and the slot's confirmed
// position, and sets the lag and retained WAL gauges.
func (m *monitor) measureServer(ctx context.Context, s *capture.Stream) (capture.LSN, capture.LSN, error) {
	src := s.Source()
	conn := m.conns[src.Name]
	if conn == nil || conn.IsClosed() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(cctx, src.DSN)
		if err != nil {
			return 0, 0, fmt.Errorf("connect: %w", err)
		}
		conn, m.conns[src.Name] = c, c
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	slot, err := capture.InspectSlot(qctx, conn, src.SlotName())
	if err != nil {
		conn.Close(context.Background())
		return 0, 0, fmt.Errorf("read WAL positions: %w", err)
	}
	cur, conf, rest := slot.Current, slot.Confirmed, slot.Restart
	if conf == 0 {
		return 0, 0, errNoSlot
	}
	conf = max(conf, s.Confirmed())
	m.metrics.lagBytes.WithLabelValues(src.Name).Set(float64(diff(cur, conf)))
	m.metrics.retainedWAL.WithLabelValues(src.Name).Set(float64(diff(cur, rest)))
	return cur, conf, nil
}

// followStreams sets the gauges the streams know by themselves every
// interval until ctx ends.
func (m *monitor) followStreams(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, s := range m.streams {
				m.streamGauges(s, now)
			}
		}
	}
}

// streamGauges sets a stream's lag in seconds, whether it is connected
// and the age of its last message, and returns the first two.
func (m *monitor) streamGauges(s *capture.Stream, now time.Time) (float64, bool) {
	name := s.Source().Name
	lag := s.LagSeconds(now)
	m.metrics.lagSeconds.WithLabelValues(name).Set(lag)
	connected := s.Connected()
	m.metrics.connected.WithLabelValues(name).Set(gaugeBool(connected))
	if last := s.LastMessage(); !last.IsZero() {
		m.metrics.lastMessageAge.WithLabelValues(name).Set(max(now.Sub(last).Seconds(), 0))
	}
	return lag, connected
}

func gaugeBool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// errNoSlot means the source's slot is not created yet: lag has no
// meaning before the first snapshot starts.
var errNoSlot = errors.New("no replication slot yet")

func diff(a, b capture.LSN) uint64 { return capture.Behind(a, b) }
