package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/client"
)

// RYWOptions sizes the read-your-writes benchmark.
type RYWOptions struct {
	Stream StreamOptions
	// Rates are the order-change loads, in transactions per second, that
	// run while the probe waits on its own writes.
	Rates []float64
	// ProbeEvery is the pause between two probes; each probe writes an
	// order, waits on it through /v1/wait and searches for it.
	ProbeEvery time.Duration
	// BulkRefresh sets projector's admin.bulk_refresh.
	BulkRefresh bool
}

// RYWPhase is one load with the probe beside it.
type RYWPhase struct {
	// Quiet is the same load just before, with the admin API on and
	// nobody waiting: what waiting costs the stream is Load's CPU against
	// Quiet's.
	Quiet StreamPhase
	Load  StreamPhase
	// Probes is how many writes were waited on; Missed how many of them a
	// search right after the wait did not find, Timeouts how many waits
	// ran out of time (probeTimeout) and Failed how many answered with an
	// error (a refresh the search engine did not finish, say).
	Probes, Missed, Timeouts, Failed int
	// P50, P99 and Max are commit-to-visible times through /v1/wait: from
	// the probe's COMMIT returning to the wait answering 200.
	P50, P99, Max time.Duration
	// Durable, Searchable and Outside are the p50 and p99 of where the
	// visible waits spent their time: in projector until the index
	// acknowledged the position, then in the refresh, and outside
	// projector (the probe reading its commit position, the request and
	// the answer).
	Durable, Searchable, Outside [2]time.Duration
	// BulkRefreshes and RefreshRequests count how the waits were made
	// searchable: by a bulk request's own refresh (refresh=true) or by a
	// refresh request; RefreshMean is a refresh request's mean time, from
	// the request to the engine's answer (queueing on its refresh thread
	// pool included).
	BulkRefreshes, RefreshRequests int
	RefreshMean                    time.Duration
}

// RYWReport is the read-your-writes benchmark's result.
type RYWReport struct {
	Opts   RYWOptions
	Phases []RYWPhase
}

// RunRYW starts projector with its admin API on a filled shop, then runs
// each order-change load while a probe writes orders of its own, waits on
// each through /v1/wait and searches for it.
func RunRYW(ctx context.Context, env Env, bin, dir string, opts RYWOptions, log *slog.Logger) (RYWReport, error) {
	rep := RYWReport{Opts: opts}
	db, search, cleanup, err := env.scratch(ctx, log)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	so := opts.Stream
	if err := createShop(ctx, db, so.Size); err != nil {
		return rep, err
	}
	listen, err := freeAddr()
	if err != nil {
		return rep, err
	}
	adminListen, err := freeAddr()
	if err != nil {
		return rep, err
	}
	cfg := shopConfig{DSN: db.DSN, Slot: db.Name + "_s", SearchURL: env.SearchURL, Prefix: db.Name + "_",
		StateDir: filepath.Join(dir, db.Name), Listen: listen, BulkActions: so.BulkActions, Concurrency: so.Concurrency}
	path, err := cfg.write(dir)
	if err != nil {
		return rep, err
	}
	token := rand.Text()
	tokenFile := filepath.Join(dir, cfg.Slot+".admin-token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return rep, fmt.Errorf("write the admin token: %w", err)
	}
	if err := appendFile(path, fmt.Sprintf("admin: { listen: %s, token_file: %s, bulk_refresh: %t }\n", adminListen, tokenFile, opts.BulkRefresh)); err != nil {
		return rep, err
	}
	p, err := startProjector(bin, path, listen, filepath.Join(dir, cfg.Slot+".log"))
	if err != nil {
		return rep, err
	}
	defer p.stop()
	if err := waitCaughtUp(ctx, p, so.Size, 5*time.Minute); err != nil {
		return rep, fmt.Errorf("projector's snapshot of the read-your-writes data set: %w", err)
	}
	load, err := newWriteLoad(ctx, db, so.Size, so.Workers)
	if err != nil {
		return rep, err
	}
	defer load.close()
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		return rep, fmt.Errorf("connect the probe: %w", err)
	}
	defer conn.Close(context.Background())
	waiter := client.New("http://"+adminListen, token)
	probeID := int64(1 << 40) // beyond the load's order ids
	for _, rate := range opts.Rates {
		ph := phase{name: strconv.Itoa(int(rate)) + " txn/s", kind: orderChanges, rate: rate}
		var res RYWPhase
		res.Quiet, err = measurePhase(ctx, p, load, phase{name: ph.name + ", nobody waits", kind: orderChanges, rate: rate}, so, "")
		if err != nil {
			return rep, err
		}
		before, err := p.metrics(ctx)
		if err != nil {
			return rep, err
		}
		probeCtx, stopProbe := context.WithCancel(ctx)
		var waits, durable, searchable, outside []time.Duration
		var probeErr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for probeCtx.Err() == nil {
				probeID++
				d, phases, found, err := probe(probeCtx, conn, waiter, search, cfg.Prefix+shopView, probeID)
				switch {
				case probeCtx.Err() != nil:
					return
				case errors.Is(err, client.ErrTimeout):
					res.Timeouts++
				case errors.As(err, new(*client.StatusError)):
					res.Failed++
				case err != nil:
					probeErr = err
					return
				default:
					waits = append(waits, d)
					durable = append(durable, phases.Durable)
					searchable = append(searchable, phases.Searchable)
					outside = append(outside, d-phases.Durable-phases.Searchable)
					if !found {
						res.Missed++
					}
				}
				res.Probes++
				select {
				case <-probeCtx.Done():
				case <-time.After(opts.ProbeEvery):
				}
			}
		}()
		measured, err := measurePhase(ctx, p, load, ph, so, "")
		stopProbe()
		wg.Wait()
		if err != nil {
			return rep, err
		}
		after, err := p.metrics(ctx)
		if err != nil {
			return rep, err
		}
		res.BulkRefreshes = int(after.sum("projector_admin_bulk_refreshes_total", nil) - before.sum("projector_admin_bulk_refreshes_total", nil))
		res.RefreshRequests = int(after.sum("projector_admin_refreshes_total", nil) - before.sum("projector_admin_refreshes_total", nil))
		if n, sum := histogramSum(after, "projector_admin_refresh_seconds", before); n > 0 {
			res.RefreshMean = time.Duration(sum / float64(n) * float64(time.Second))
		}
		if probeErr != nil {
			return rep, fmt.Errorf("read-your-writes probe during %s: %w", ph.name, probeErr)
		}
		res.Load = measured
		slices.Sort(waits)
		res.P50, res.P99, res.Max = quantile(waits, 0.5), quantile(waits, 0.99), quantile(waits, 1)
		res.Durable, res.Searchable, res.Outside = p50p99(durable), p50p99(searchable), p50p99(outside)
		log.Info("read-your-writes phase", "phase", ph.name, "probes", res.Probes, "missed", res.Missed, "timeouts", res.Timeouts, "failed", res.Failed,
			"p50", res.P50, "p99", res.P99, "written_lag_p99", measured.P99[1],
			"durable_p50", res.Durable[0], "durable_p99", res.Durable[1], "searchable_p50", res.Searchable[0], "searchable_p99", res.Searchable[1],
			"outside_p50", res.Outside[0], "outside_p99", res.Outside[1],
			"bulk_refreshes", res.BulkRefreshes, "refresh_requests", res.RefreshRequests, "refresh_request_mean", res.RefreshMean,
			"cpu_seconds", measured.CPUSeconds, "cpu_seconds_nobody_waits", res.Quiet.CPUSeconds)
		rep.Phases = append(rep.Phases, res)
	}
	return rep, nil
}

// probe writes one order, reads its commit position, waits on it and
// searches for the order: how long from the commit to the wait's answer,
// where projector says the wait spent it, and whether the search found
// it.
func probe(ctx context.Context, conn *pgx.Conn, waiter *client.Client, search *searchClient, alias string, id int64) (time.Duration, client.Waited, bool, error) {
	_, err := conn.Exec(ctx, `INSERT INTO orders VALUES ($1, 1, 'placed', 100, now())`, id)
	if err != nil {
		return 0, client.Waited{}, false, fmt.Errorf("write order %d: %w", id, err)
	}
	committed := time.Now()
	lsn, err := client.CommitPosition(ctx, conn)
	if err != nil {
		return 0, client.Waited{}, false, err
	}
	wctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	phases, err := waiter.WaitTimed(wctx, shopView, "shop", lsn)
	if err != nil {
		return 0, client.Waited{}, false, err
	}
	took := time.Since(committed)
	found, err := search.hasID(ctx, alias, id)
	return took, phases, found, err
}

// histogramSum is how many observations a histogram gained from before
// to after, and their sum.
func histogramSum(after metricSet, name string, before metricSet) (uint64, float64) {
	total := func(m metricSet) (uint64, float64) {
		var n uint64
		var sum float64
		if f := m[name]; f != nil {
			for _, s := range f.Metric {
				n += s.GetHistogram().GetSampleCount()
				sum += s.GetHistogram().GetSampleSum()
			}
		}
		return n, sum
	}
	n1, s1 := total(after)
	n0, s0 := total(before)
	return n1 - n0, s1 - s0
}

// p50p99 are the median and 99th percentile of ds, which it sorts.
func p50p99(ds []time.Duration) [2]time.Duration {
	slices.Sort(ds)
	return [2]time.Duration{quantile(ds, 0.5), quantile(ds, 0.99)}
}

// probeTimeout bounds a probe's wait: long enough to measure a lagging
// projector rather than count timeouts.
const probeTimeout = 30 * time.Second

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(math.Floor(float64(len(sorted))*q)))]
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("extend projector configuration: %w", err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("extend projector configuration: %w", err)
	}
	return f.Close()
}

// writeRYW renders the read-your-writes benchmark.
func (r *Report) writeRYW(p printer) {
	s := r.RYW
	p("")
	p("## 5. Read your own writes")
	p("")
	p("projector runs with its admin API on %s orders; each order-change load runs for %s while a probe, every %s, inserts",
		thousands(float64(s.Opts.Stream.Size.Orders)), s.Opts.Stream.Duration, s.Opts.ProbeEvery)
	p("an order, reads `client.CommitPosition`, waits on it through `GET /v1/wait` (`client.Wait`, %s timeout) and searches the", probeTimeout)
	p("view for it. Commit to visible is from the probe's COMMIT returning to the wait answering; written lag is the same load's")
	p("`projector_view_lag_seconds` buckets (commit to acknowledged, without a refresh). Goal: p99 < 0.5 s at 1,000 txn/s.")
	p("")
	p("| load | written txn/s | probes | missed | timeouts | failed | commit→visible p50 | p99 | max | written lag p50 | written lag p99 | p99 / written lag p99 |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, ph := range s.Phases {
		p("| %s | %s | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s |", ph.Load.Name, thousands(ph.Load.WrittenTPS), ph.Probes, ph.Missed,
			ph.Timeouts, ph.Failed, ms(ph.P50), ms(ph.P99), ms(ph.Max), span(ph.Load.P50), span(ph.Load.P99), lagRatio(ph.P99, ph.Load.P99))
	}
	p("")
	p("Where the visible waits' time went, p50 / p99 of each phase on its own (so they do not add up to the total's p99): until the index")
	p("had acknowledged the position (`durable`, the write's own lag as the waiter sees it), then the refresh (`searchable`, a running")
	p("refresh that started too early for the wait and the wait's own), both as `GET /v1/wait` answers them")
	p("(`projector_admin_wait_phase_seconds`), and outside projector (reading the commit position, the request and the answer).")
	p("")
	p("| load | durable p50 | durable p99 | searchable p50 | searchable p99 | outside p50 | outside p99 |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, ph := range s.Phases {
		p("| %s | %s | %s | %s | %s | %s | %s |", ph.Load.Name, ms(ph.Durable[0]), ms(ph.Durable[1]), ms(ph.Searchable[0]), ms(ph.Searchable[1]),
			ms(ph.Outside[0]), ms(ph.Outside[1]))
	}
	p("")
	p("How the waits were made searchable: by the `refresh=true` of a bulk request of the view's index sent once their position was")
	p("acknowledged (`projector_admin_bulk_refreshes_total`), or by a refresh request (`projector_admin_refreshes_total`), whose mean")
	p("time includes the queue of the engine's refresh thread pool (`projector_admin_refresh_seconds`).")
	p("")
	p("| load | bulk requests' refreshes | refresh requests | refresh request mean |")
	p("| --- | ---: | ---: | ---: |")
	for _, ph := range s.Phases {
		p("| %s | %d | %d | %s |", ph.Load.Name, ph.BulkRefreshes, ph.RefreshRequests, ms(ph.RefreshMean))
	}
	p("")
	p("What waiting costs the stream: each load ran first with the admin API on and nobody waiting, then with the probe; projector's")
	p("CPU seconds over the load and its catch-up, in the same run (the single-table and streaming benchmarks run without the admin API).")
	p("")
	p("| load | nobody waits: written txn/s | CPU s | CPU s / 1,000 changes | written lag p99 | probe waiting: written txn/s | CPU s | CPU s / 1,000 changes | written lag p99 |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, ph := range s.Phases {
		q, l := ph.Quiet, ph.Load
		p("| %s | %s | %.1f | %.3f | %s | %s | %.1f | %.3f | %s |", l.Name, thousands(q.WrittenTPS), q.CPUSeconds, q.CPUPer1000, span(q.P99),
			thousands(l.WrittenTPS), l.CPUSeconds, l.CPUPer1000, span(l.P99))
	}
}

// lagRatio is a wait's p99 against the upper bound of the written lag's
// p99 bucket: how much the refresh and the wake-ups add to the lag every
// write has anyway.
func lagRatio(wait time.Duration, lag [2]float64) string {
	if lag[1] <= 0 || math.IsNaN(lag[1]) || math.IsInf(lag[1], 0) {
		return "-"
	}
	return fmt.Sprintf("%.2f", wait.Seconds()/lag[1])
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// hasID reports whether a search (not a real-time get) on index finds the
// document with id.
func (c *searchClient) hasID(ctx context.Context, index string, id int64) (bool, error) {
	var res struct {
		Hits struct {
			Hits []struct{} `json:"hits"`
		} `json:"hits"`
	}
	q := map[string]any{"query": map[string]any{"ids": map[string]any{"values": []string{strconv.FormatInt(id, 10)}}}}
	if err := c.json(ctx, "POST", "/"+index+"/_search", q, &res); err != nil {
		return false, err
	}
	return len(res.Hits.Hits) == 1, nil
}
