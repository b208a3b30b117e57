package transform

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/searchfake"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform/state"
)

// BenchmarkPacedStream runs the engine and the sink's writer (four lanes,
// a 100 ms flush interval, as the daemon's defaults) over single-insert
// transactions paced at 50 and 500 a second for 10 s, against the
// in-memory search engine, with the daemon's linger of 60 ms. It reports
// the process's CPU per 1,000 transactions (the fake search engine's
// share included, which grows with the bulk requests), groups and bulk
// requests per 1,000 transactions, and the view lag's p50 as the daemon
// measures it (from the oldest commit of a group to its acknowledgement).
// What the capture stage costs per transaction is not in it. Run with
// -benchtime=1x: each iteration is a whole paced run.
func BenchmarkPacedStream(b *testing.B) {
	for _, rate := range []int{50, 500} {
		b.Run(time.Duration(int(time.Second)/rate).String()+" apart", func(b *testing.B) {
			for range b.N {
				pacedRun(b, rate, 10*time.Second, 60*time.Millisecond)
			}
		})
	}
}

func pacedRun(b *testing.B, rate int, d, linger time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(searchfake.New(searchfake.OpenSearch))
	defer srv.Close()
	client, err := sink.Connect(ctx, sink.Options{URLs: []string{srv.URL}})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := sink.NewWriter(client, sink.WriterOptions{FlushInterval: 100 * time.Millisecond, Concurrency: 4}, reg, log)
	if err != nil {
		b.Fatal(err)
	}
	store, err := state.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close() //nolint:errcheck // benchmark cleanup
	var confirmed atomic.Uint64
	engine, err := NewEngine(store, []*View{orderHistory()}, w,
		func(_ string, lsn capture.LSN) { confirmed.Store(uint64(lsn)) },
		Options{GroupLinger: linger}, NewMetrics(reg), log)
	if err != nil {
		b.Fatal(err)
	}
	wctx, stopWriter := context.WithCancel(ctx)
	wdone := make(chan error, 1)
	go func() { wdone <- w.Run(wctx) }()
	in := make(chan *capture.Transaction, 4096)
	edone := make(chan error, 1)
	go func() { edone <- engine.Run(ctx, in) }()
	lsn, id := capture.LSN(100), int64(0)
	every := time.Second / time.Duration(rate)
	stream := func(n int) {
		start := time.Now()
		for i := range n {
			time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
			lsn += 10
			id++
			in <- &capture.Transaction{Source: "orders", XID: uint32(lsn), CommitLSN: lsn, EndLSN: lsn, CommitTime: time.Now(),
				Changes: []capture.Change{ins("orders", capture.Row{"id": id, "status": "new"})}}
		}
		for capture.LSN(confirmed.Load()) < lsn {
			time.Sleep(time.Millisecond)
		}
	}
	stream(rate) // a second to warm up
	lagBefore, bulkBefore := histogramOf(b, reg, "projector_view_lag_seconds"), histogramOf(b, reg, "projector_bulk_duration_seconds")
	cpuBefore := processCPU(b)
	b.ResetTimer()
	n := rate * int(d/time.Second)
	stream(n)
	b.StopTimer()
	cpu := processCPU(b) - cpuBefore
	lag := histogramOf(b, reg, "projector_view_lag_seconds").since(lagBefore)
	bulk := histogramOf(b, reg, "projector_bulk_duration_seconds").since(bulkBefore)
	close(in)
	if err := <-edone; err != nil {
		b.Fatal(err)
	}
	stopWriter()
	if err := <-wdone; err != nil {
		b.Fatal(err)
	}
	perK := 1000 / float64(n)
	b.ReportMetric(cpu.Seconds()*perK, "cpu-s/1k-txns")
	b.ReportMetric(float64(lag.count)*perK, "groups/1k-txns")
	b.ReportMetric(float64(bulk.count)*perK, "bulks/1k-txns")
	b.ReportMetric(lag.quantile(0.5), "lag-p50-s")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchHistogram is a histogram's cumulative buckets, summed over its
// label values.
type benchHistogram struct {
	count  uint64
	bounds []float64
	counts []uint64 // cumulative, per bound
}

func histogramOf(b *testing.B, reg *prometheus.Registry, name string) benchHistogram {
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var h benchHistogram
	for _, f := range families {
		if f.GetName() != name || f.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for _, m := range f.GetMetric() {
			mh := m.GetHistogram()
			h.count += mh.GetSampleCount()
			for i, bucket := range mh.GetBucket() {
				if i == len(h.bounds) {
					h.bounds, h.counts = append(h.bounds, bucket.GetUpperBound()), append(h.counts, 0)
				}
				h.counts[i] += bucket.GetCumulativeCount()
			}
		}
	}
	return h
}

func (h benchHistogram) since(before benchHistogram) benchHistogram {
	d := benchHistogram{count: h.count - before.count, bounds: h.bounds, counts: make([]uint64, len(h.counts))}
	for i := range h.counts {
		d.counts[i] = h.counts[i]
		if i < len(before.counts) {
			d.counts[i] -= before.counts[i]
		}
	}
	return d
}

// quantile interpolates within the bucket the q-quantile falls in, as
// Prometheus' histogram_quantile does.
func (h benchHistogram) quantile(q float64) float64 {
	rank := q * float64(h.count)
	lower, below := 0.0, uint64(0)
	for i, bound := range h.bounds {
		if c := h.counts[i]; float64(c) >= rank {
			if c == below {
				return bound
			}
			return lower + (bound-lower)*(rank-float64(below))/float64(c-below)
		}
		lower, below = bound, h.counts[i]
	}
	return lower
}
