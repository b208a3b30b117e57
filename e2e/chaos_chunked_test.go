package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/fooddelivery"
)

// TestChaosSIGKILLDuringChunkedSnapshot copies every source in small
// chunks while the workload writes, kills projector with SIGKILL in the
// middle of the copy and starts it again on the same state: the copy
// resumes, the index ends equal to the join and no document ever shows an
// older revision.
func TestChaosSIGKILLDuringChunkedSnapshot(t *testing.T) {
	fx := newChaosFixture(t, chaosOptions{size: fooddelivery.SizeForOrders(chaosOrders), snapshot: "{ mode: chunked, chunk_rows: 20 }"})
	watch := watchVersions(t, fx.search, fx.alias("order_history"))
	d := fx.start(t)
	work := startWorkload(t, fx.dbs)
	copied := func() float64 {
		var sum float64
		if f := scrape(d)["projector_snapshot_rows_copied"]; f != nil {
			for _, m := range f.Metric {
				sum += m.GetGauge().GetValue()
			}
		}
		return sum
	}
	eventually(t, 2*time.Minute, func() bool { return copied() > 0 },
		func() string { return "the chunked snapshot never copied a row" })
	if code, _, _ := d.get("/readyz"); code == 200 {
		t.Fatalf("the chunked snapshot was over before the kill; make the chunks smaller")
	}
	before := copied()
	if err := d.stop(syscall.SIGKILL, 30*time.Second); err == nil {
		t.Fatalf("projector survived SIGKILL")
	}
	t.Logf("killed projector during the chunked snapshot, %.0f rows copied", before)
	killed := time.Now()
	d = fx.start(t)
	d.waitReady(3 * time.Minute)
	t.Logf("RECOVERY %s/snapshot: ready %s after the kill", t.Name(), time.Since(killed).Round(10*time.Millisecond))
	fx.conclude(t, d, faultEnd{at: killed}, work, watch)
}
