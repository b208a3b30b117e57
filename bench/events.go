package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
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
	// BulkActions and Concurrency are projector's sink settings.
	BulkActions, Concurrency int
}

// EventsRow is one path measured.
type EventsRow struct {
	Path string
	// Rate is changes (or events) applied per second, from the first
	// write to the last document acknowledged.
	Rate       float64
	Took       time.Duration
	CaughtUp   bool
	CPUPer1000 float64 // CPU seconds of projector per 1,000 changes
	PeakRSS    float64 // bytes, polled
	VmHWM      string
}

// EventsReport compares a view over a table kept up to date by row
// changes with the same view over an entity folded from as many published
// events.
type EventsReport struct {
	Opts EventsOptions
	Rows []EventsRow // the row path first
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

// RunEvents runs the two paths one after the other, each on a database,
// projector and index of its own.
func RunEvents(ctx context.Context, env Env, bin, dir string, opts EventsOptions, log *slog.Logger) (EventsReport, error) {
	rep := EventsReport{Opts: opts}
	for _, events := range []bool{false, true} {
		row, err := runEventsPath(ctx, env, bin, dir, opts, events, log)
		if err != nil {
			return rep, err
		}
		log.Info("events benchmark", "path", row.Path, "changes_per_s", math.Round(row.Rate), "cpu_s_per_1k", row.CPUPer1000,
			"peak_rss_mib", math.Round(row.PeakRSS/(1<<20)))
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

func runEventsPath(ctx context.Context, env Env, bin, dir string, opts EventsOptions, events bool, log *slog.Logger) (EventsRow, error) {
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
http: { listen: %s }
views:
  - name: orders
    root: %s
    relations:
      - { name: customer, type: belongs_to, source: shop, table: customers, on: { customer_id: id }, fields: [name] }
`, db.DSN, slot, slot, source, env.SearchURL, db.Name, opts.BulkActions, opts.Concurrency,
		filepath.Join(dir, db.Name), listen, root)
	path := filepath.Join(dir, slot+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return row, fmt.Errorf("write projector configuration: %w", err)
	}
	p, err := startProjector(bin, path, listen, filepath.Join(dir, slot+".log"))
	if err != nil {
		return row, err
	}
	defer p.stop()
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
	before, err := p.metrics(ctx)
	if err != nil {
		return row, err
	}
	pollCtx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		_ = pollEvery(pollCtx, 100*time.Millisecond, func() (bool, error) {
			if m, err := p.metrics(pollCtx); err == nil {
				row.PeakRSS = max(row.PeakRSS, m.sum("process_resident_memory_bytes", nil))
			}
			return false, nil
		})
	}()
	start := time.Now()
	if err := writeOrders(ctx, db, opts, events); err != nil {
		stopPoll()
		<-polled
		return row, err
	}
	want := before.sum("projector_events_applied_total", nil) + float64(opts.Changes)
	var caughtAt time.Time
	err = pollEvery(ctx, 50*time.Millisecond, func() (bool, error) {
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
	row.CPUPer1000 = (after.sum("process_cpu_seconds_total", nil) - before.sum("process_cpu_seconds_total", nil)) / float64(opts.Changes) * 1000
	if events {
		if n := after.sum("projector_event_fold_errors_total", nil); n > 0 {
			return row, fmt.Errorf("%v events failed to fold", n)
		}
	}
	row.VmHWM = vmHWM(p.cmd.Process.Pid)
	return row, nil
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
	p("joined with its customer: once as %s row changes of an orders table (an insert, then updates adding an item),",
		thousands(float64(o.Changes)))
	p("once as as many events inserted into an outbox (OrderCreated, then ItemAdded) that projector folds into an order")
	p("entity with a declarative reducer. Rates are over the writes plus catch-up (every change applied, every document")
	p("acknowledged). Goal: the event path at 0.8 of the row path's rate or better, RSS under 200 MB.")
	p("")
	p("| path | changes or events/s | ratio to row path | took | CPU s / 1k | peak RSS (polled) | VmHWM |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, row := range e.Rows {
		took := row.Took.Round(100 * time.Millisecond).String()
		if !row.CaughtUp {
			took = "> " + took
		}
		p("| %s | %s | %.2f | %s | %.3f | %s | %s |", row.Path, thousands(row.Rate), row.Rate/e.Rows[0].Rate, took,
			row.CPUPer1000, mib(row.PeakRSS), row.VmHWM)
	}
}
