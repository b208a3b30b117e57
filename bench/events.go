package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// EventsOptions sizes the event-sourcing benchmark.
type EventsOptions struct {
	// Changes is how many row changes (row path) or published events
	// (event path) are written.
	Changes int
	// Aggregates is how many orders they are about: the first change of
	// each creates it, the others change it.
	Aggregates int
	// Batch is how many changes one transaction writes.
	Batch int
	// Rounds is how many times each path runs. The paths alternate, row
	// path first in odd rounds and last in even ones, so a machine getting
	// busier or quieter weighs on both alike.
	Rounds int
	// BulkActions and Concurrency are projector's sink settings.
	BulkActions, Concurrency int
	// ProfileDir, when set, keeps a CPU profile of projector over the
	// first ProfileFor (30 s when zero) of each path's last round, from
	// its first write: events-rows.pprof and events-events.pprof.
	ProfileDir string
	ProfileFor time.Duration
}

// EventsRow is one path measured: the median of its rounds.
type EventsRow struct {
	Path string
	// Rate is changes (or events) applied per second, from the first
	// write to the last document acknowledged.
	Rate     float64
	Took     time.Duration
	CaughtUp bool
	// CPUPer1000 is projector's CPU seconds (user and system, from
	// /proc) per 1,000 changes, from the first write to catching up.
	CPUPer1000 float64
	// CPUMin and CPUMax are the range of CPUPer1000 over the rounds.
	CPUMin, CPUMax float64
	PeakRSS        float64 // bytes, polled; the highest of the rounds
	VmHWM          string  // of the round with the highest PeakRSS
	Rounds         int
}

// EventsReport compares a view over a table kept up to date by row
// changes with the same view over an entity folded from as many published
// events.
type EventsReport struct {
	Opts EventsOptions
	Rows []EventsRow // the row path first
	// RoundRatios are each round's row path CPU per change over its event
	// path's: the two runs of a round are next to each other in time.
	RoundRatios []float64
}

// CPURatio is the row path's CPU per change over the event path's: the
// event path's rate as a fraction of the row path's when both have the
// same CPU, which a shared machine's wall clock cannot show. It is the
// median of the rounds' ratios, which a machine getting busier or quieter
// between rounds skews less than the ratio of the paths' medians.
func (r EventsReport) CPURatio() float64 {
	if len(r.RoundRatios) > 0 {
		vs := slices.Sorted(slices.Values(r.RoundRatios))
		return (vs[(len(vs)-1)/2] + vs[len(vs)/2]) / 2
	}
	if len(r.Rows) < 2 || r.Rows[1].CPUPer1000 == 0 {
		return 0
	}
	return r.Rows[0].CPUPer1000 / r.Rows[1].CPUPer1000
}

// eventsReducer folds the event path's orders: created, then items added.
const eventsReducer = `
    events:
      order:
        table: outbox
        fields: { customer_id: bigint, state: text, total: numeric, items: jsonb }
        on:
          OrderCreated: { set: { customer_id: .customerId, state: '"PENDING"', total: 0 } }
          ItemAdded:    { append: { field: items, key: sku }, set: { total: ($state.total + .price) } }`

// RunEvents runs the two paths opts.Rounds times each, alternating, each
// run on a database, projector and index of its own, and keeps each path's
// median run.
func RunEvents(ctx context.Context, env Env, bin, dir string, opts EventsOptions, log *slog.Logger) (EventsReport, error) {
	rep := EventsReport{Opts: opts}
	runs := [2][]EventsRow{}
	for round := range max(opts.Rounds, 1) {
		order := []bool{false, true}
		if round%2 == 1 {
			order = []bool{true, false}
		}
		for _, events := range order {
			profile := ""
			if opts.ProfileDir != "" && round == max(opts.Rounds, 1)-1 {
				profile = filepath.Join(opts.ProfileDir, "events-rows.pprof")
				if events {
					profile = filepath.Join(opts.ProfileDir, "events-events.pprof")
				}
			}
			row, err := runEventsPath(ctx, env, bin, dir, opts, events, profile, log)
			if err != nil {
				return rep, err
			}
			log.Info("events benchmark", "round", round+1, "path", row.Path, "changes_per_s", math.Round(row.Rate),
				"cpu_s_per_1k", row.CPUPer1000,
				"took", row.Took, "peak_rss_mib", math.Round(row.PeakRSS/(1<<20)))
			i := 0
			if events {
				i = 1
			}
			runs[i] = append(runs[i], row)
		}
	}
	for _, r := range runs {
		rep.Rows = append(rep.Rows, medianEventsRow(r))
	}
	for i := range runs[0] {
		if runs[1][i].CPUPer1000 > 0 {
			rep.RoundRatios = append(rep.RoundRatios, runs[0][i].CPUPer1000/runs[1][i].CPUPer1000)
		}
	}
	log.Info("events benchmark", "cpu_ratio", rep.CPURatio(), "rate_ratio", rep.Rows[1].Rate/rep.Rows[0].Rate)
	return rep, nil
}

// medianEventsRow sums up a path's runs: the median CPU per change and
// rate (each the middle run's, or the mean of the middle two), their CPU
// range, and the highest memory.
func medianEventsRow(runs []EventsRow) EventsRow {
	mid := func(v func(EventsRow) float64) float64 {
		vs := make([]float64, len(runs))
		for i, r := range runs {
			vs[i] = v(r)
		}
		return median(vs)
	}
	out := runs[0]
	out.Rounds = len(runs)
	out.CPUPer1000 = mid(func(r EventsRow) float64 { return r.CPUPer1000 })
	out.Rate = mid(func(r EventsRow) float64 { return r.Rate })
	out.Took = time.Duration(mid(func(r EventsRow) float64 { return float64(r.Took) }))
	out.CPUMin, out.CPUMax = runs[0].CPUPer1000, runs[0].CPUPer1000
	for _, r := range runs {
		out.CaughtUp = out.CaughtUp && r.CaughtUp
		out.CPUMin, out.CPUMax = min(out.CPUMin, r.CPUPer1000), max(out.CPUMax, r.CPUPer1000)
		if r.PeakRSS > out.PeakRSS {
			out.PeakRSS, out.VmHWM = r.PeakRSS, r.VmHWM
		}
	}
	return out
}

func runEventsPath(ctx context.Context, env Env, bin, dir string, opts EventsOptions, events bool, profile string, log *slog.Logger) (EventsRow, error) {
	row := EventsRow{Path: "row changes of an orders table"}
	if events {
		row.Path = "events folded into an order entity"
	}
	db, _, cleanup, err := env.scratch(ctx, log)
	if err != nil {
		return row, err
	}
	defer cleanup()
	err = db.Exec(ctx, `CREATE TABLE customers (id int8 PRIMARY KEY, name text NOT NULL);
		INSERT INTO customers SELECT g, 'Customer ' || g FROM generate_series(0, 99) g;
		CREATE TABLE orders (id int8 PRIMARY KEY, customer_id int8 NOT NULL, state text NOT NULL, total numeric NOT NULL, items jsonb NOT NULL);
		CREATE TABLE outbox (id bigserial PRIMARY KEY, aggregatetype text NOT NULL DEFAULT 'Order', aggregateid text NOT NULL,
			type text NOT NULL, payload jsonb NOT NULL)`)
	if err != nil {
		return row, err
	}
	listen, err := freeAddr()
	if err != nil {
		return row, err
	}
	root, source := "{ source: shop, table: orders }", ""
	if events {
		root, source = "{ source: shop, entity: order }", eventsReducer
	}
	slot := db.Name + "_s"
	yaml := fmt.Sprintf(`
sources:
  shop:
    dsn: %q
    slot: %s
    publication: %s%s
sink: { urls: [%q], index_prefix: %s_, bulk_actions: %d, concurrency: %d }
state: { dir: %q }
http: { listen: %s, pprof: %t, pprof_token_file: %q }
views:
  - name: orders
    root: %s
    relations:
      - { name: customer, type: belongs_to, source: shop, table: customers, on: { customer_id: id }, fields: [name] }
`, db.DSN, slot, slot, source, env.SearchURL, db.Name, opts.BulkActions, opts.Concurrency,
		filepath.Join(dir, db.Name), listen, profile != "", filepath.Join(dir, slot+".token"), root)
	token := rand.Text()
	if err := os.WriteFile(filepath.Join(dir, slot+".token"), []byte(token), 0o600); err != nil {
		return row, fmt.Errorf("write the events benchmark's profiling token: %w", err)
	}
	path := filepath.Join(dir, slot+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return row, fmt.Errorf("write projector configuration: %w", err)
	}
	p, err := startProjector(bin, path, listen, filepath.Join(dir, slot+".log"))
	if err != nil {
		return row, err
	}
	defer p.stop()
	p.pprofToken = token
	ready, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = pollEvery(ready, 100*time.Millisecond, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("projector exited: %v", p.err)
		}
		m, err := p.metrics(ready)
		return err == nil && m.sum("projector_ready", nil) == 1, nil
	})
	cancel()
	if err != nil {
		return row, fmt.Errorf("projector did not get ready: %w", err)
	}
	// Memory and CPU are read from /proc, not scraped: a scrape costs
	// projector CPU, which a run slowed down by a busy machine would count
	// more of per change. The metrics are scraped only to see it catch up.
	pid := p.cmd.Process.Pid
	pollCtx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		_ = pollEvery(pollCtx, 100*time.Millisecond, func() (bool, error) {
			row.PeakRSS = max(row.PeakRSS, vmRSS(pid))
			return false, nil
		})
	}()
	before, err := p.metrics(ctx)
	if err != nil {
		stopPoll()
		<-polled
		return row, err
	}
	_, cpuBefore, ok := procCPU(pid)
	if !ok {
		stopPoll()
		<-polled
		return row, fmt.Errorf("read projector's CPU time from /proc/%d/stat", pid)
	}
	start := time.Now()
	profiled := make(chan error, 1)
	if profile != "" {
		d := opts.ProfileFor
		if d <= 0 {
			d = 30 * time.Second
		}
		go func() { profiled <- p.cpuProfile(ctx, d, profile) }()
	} else {
		profiled <- nil
	}
	if err := writeOrders(ctx, db, opts, events); err != nil {
		stopPoll()
		<-polled
		<-profiled
		return row, err
	}
	want := before.sum("projector_events_applied_total", nil) + float64(opts.Changes)
	var caughtAt time.Time
	err = pollEvery(ctx, eventsPoll, func() (bool, error) {
		m, err := p.metrics(ctx)
		if err != nil {
			return false, err
		}
		ok := m.sum("projector_events_applied_total", nil) >= want &&
			m.sum("projector_documents_built_total", nil) == m.sum("projector_documents_written_total", nil)
		switch {
		case !ok:
			caughtAt = time.Time{}
		case caughtAt.IsZero():
			caughtAt = time.Now()
		default:
			row.CaughtUp = true
		}
		return row.CaughtUp || time.Since(start) > 10*time.Minute, nil
	})
	stopPoll()
	<-polled
	if err != nil {
		return row, err
	}
	after, err := p.metrics(ctx)
	if err != nil {
		return row, err
	}
	if !row.CaughtUp {
		caughtAt = time.Now()
	}
	row.Took = caughtAt.Sub(start)
	row.Rate = float64(opts.Changes) / row.Took.Seconds()
	_, cpuAfter, ok := procCPU(pid)
	if !ok {
		return row, fmt.Errorf("read projector's CPU time from /proc/%d/stat", pid)
	}
	row.CPUPer1000 = float64(cpuAfter-cpuBefore) / userHZ / float64(opts.Changes) * 1000
	if events {
		if n := after.sum("projector_event_fold_errors_total", nil); n > 0 {
			return row, fmt.Errorf("%v events failed to fold", n)
		}
	}
	row.VmHWM = vmHWM(p.cmd.Process.Pid)
	if err := <-profiled; err != nil {
		return row, fmt.Errorf("profile projector: %w", err)
	}
	return row, nil
}

// eventsPoll is how often the event-sourcing benchmark scrapes projector's
// metrics to see whether it has caught up.
const eventsPoll = 250 * time.Millisecond

// vmRSS reads a process's resident memory in bytes; 0 when it cannot.
func vmRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// writeOrders writes opts.Changes changes about opts.Aggregates orders,
// opts.Batch to a transaction: first every order is created, then items
// are added to them in turn. The row path inserts and updates orders rows;
// the event path inserts the same facts as events into its outbox.
func writeOrders(ctx context.Context, db *Database, opts EventsOptions, events bool) error {
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", db.Name, err)
	}
	defer conn.Close(ctx)
	create := `INSERT INTO orders SELECT g, g % 100, 'PENDING', 0, '[]' FROM generate_series($1::int8, $2::int8) g`
	add := `UPDATE orders SET items = items || jsonb_build_array(jsonb_build_object('sku', 'sku-' || $3::int8, 'qty', 1, 'price', 2.5)),
		total = total + 2.5 WHERE id BETWEEN $1::int8 AND $2::int8`
	if events {
		create = `INSERT INTO outbox (aggregateid, type, payload) SELECT g::text, 'OrderCreated', jsonb_build_object('customerId', g % 100)
			FROM generate_series($1::int8, $2::int8) g`
		add = `INSERT INTO outbox (aggregateid, type, payload) SELECT g::text, 'ItemAdded',
			jsonb_build_object('sku', 'sku-' || $3::int8, 'qty', 1, 'price', 2.5) FROM generate_series($1::int8, $2::int8) g`
	}
	for done := 0; done < opts.Changes; {
		n := min(opts.Batch, opts.Changes-done)
		round := done / opts.Aggregates
		first := done%opts.Aggregates + 1
		n = min(n, opts.Aggregates-first+1) // a batch stays within one round
		sql, args := create, []any{first, first + n - 1}
		if round > 0 {
			sql, args = add, []any{first, first + n - 1, round}
		}
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("write orders: %w", err)
		}
		done += n
	}
	return nil
}

// writeEvents renders the event-sourcing benchmark.
func (r *Report) writeEvents(p printer) {
	e := r.Events
	o := e.Opts
	p("")
	p("## 6. Event sourcing")
	p("")
	p("The same facts about %s orders, written %s at a time as fast as PostgreSQL takes them, reach an `orders` view",
		thousands(float64(o.Aggregates)), thousands(float64(o.Batch)))
	p("joined with its customer: once as %s row changes of an orders table (an insert, then updates each adding an item",
		thousands(float64(o.Changes)))
	p("to its `items` array and to its total), once as as many events inserted into an outbox (OrderCreated, then ItemAdded)")
	p("that projector folds into an order entity of the same columns with a declarative reducer (the item appended by key,")
	p("the total summed by a jq expression). Both views have the same shape and bulk settings. The paths alternate, %d",
		max(o.Rounds, 1))
	p("runs each (row path first in odd rounds, last in even ones), each run with its own database, projector and index;")
	p("each path shows its median run. The measure is projector's CPU seconds (user and system, read from /proc) per 1,000")
	p("changes, from the first write until every change is applied and every document acknowledged: on a shared machine")
	p("wall-clock rates are noise. Memory is read from /proc too, and the metrics are scraped only every %s to see the", eventsPoll)
	p("run catch up, since scraping costs projector CPU per second, not per change. Goal: the event path at 0.8 of the row")
	p("path's rate or better at the same CPU (CPU ratio = the row path's CPU per change over the event path's), RSS under")
	p("200 MB. CPU per change still grows with the time a run takes (projector groups fewer transactions per commit when")
	p("they arrive slowly), so the CPU ratio is the median of each round's ratio of its two runs, which run next to each other.")
	p("")
	p("| path | CPU s / 1k (median) | range | CPU ratio | changes or events/s | rate ratio | took | peak RSS (polled) | VmHWM |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for i, row := range e.Rows {
		took := row.Took.Round(100 * time.Millisecond).String()
		if !row.CaughtUp {
			took = "> " + took
		}
		ratio := 1.0
		if i > 0 {
			ratio = e.CPURatio()
		}
		p("| %s | %.3f | %.3f–%.3f | %.2f | %s | %.2f | %s | %s | %s |", row.Path, row.CPUPer1000, row.CPUMin, row.CPUMax,
			ratio, thousands(row.Rate), row.Rate/e.Rows[0].Rate, took, mib(row.PeakRSS), row.VmHWM)
	}
	if len(e.RoundRatios) > 0 {
		rounds := make([]string, len(e.RoundRatios))
		for i, r := range e.RoundRatios {
			rounds[i] = fmt.Sprintf("%.2f", r)
		}
		p("")
		p("CPU ratio of each round: %s.", strings.Join(rounds, ", "))
	}
}
