package e2e

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/fooddelivery"
)

// TestChaosSIGKILL kills projector with SIGKILL at random moments, the
// first during its initial snapshot and the second while documents are
// being written, and starts it again on the same state each time. The
// index must end equal to the join and no document may ever show an
// older revision.
func TestChaosSIGKILL(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("random seed %d", seed)
	fx := newChaosFixture(t, chaosOptions{size: fooddelivery.SizeForOrders(chaosOrders)})
	watch := watchVersions(t, fx.search, fx.alias("order_history"))
	d := fx.start(t)
	restart := func(why string) faultEnd {
		t.Helper()
		if err := d.stop(syscall.SIGKILL, 30*time.Second); err == nil {
			t.Fatalf("projector survived SIGKILL")
		}
		t.Logf("killed projector %s", why)
		killed := time.Now()
		d = fx.start(t)
		// The new process has counted nothing yet.
		return faultEnd{at: killed}
	}

	eventually(t, 2*time.Minute, func() bool {
		rows, _ := sample(scrape(d), "projector_snapshot_rows_total", nil)
		return rows > 0
	}, func() string { return "the initial snapshot never started" })
	time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	if code, _, _ := d.get("/readyz"); code == 200 {
		t.Fatalf("the snapshot was over before the kill; make the data set larger")
	}
	killed := restart("during the initial snapshot")
	d.waitReady(3 * time.Minute)
	t.Logf("RECOVERY %s/snapshot: ready %s after the kill", t.Name(), time.Since(killed.at).Round(10*time.Millisecond))

	work := startWorkload(t, fx.dbs)
	var last faultEnd
	for i := 1; i < chaosKills; i++ {
		// Kills in the first half leave the workload running while
		// projector recovers, which recovery needs to see.
		target := chaosOps * i / chaosKills / 2
		eventually(t, 4*time.Minute, func() bool { return work.progress() >= target },
			func() string { return "the workload did not progress" })
		if i == 1 {
			last = restart("while documents were being written: " + waitForBulk(t, d))
		} else {
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
			last = restart("at a random moment of the workload")
		}
		d.waitReady(3 * time.Minute)
		recovery(t, d, last, work, 3*time.Minute)
	}
	fx.conclude(t, d, last, work, watch)
}

// waitForBulk returns as soon as two scrapes of /metrics show a bulk
// request completed between them, so that the kill lands among the bulk
// requests of a busy sink.
func waitForBulk(t *testing.T, d *process) string {
	t.Helper()
	before, _ := sample(scrape(d), "projector_bulk_duration_seconds", nil)
	var now float64
	eventually(t, time.Minute, func() bool {
		now, _ = sample(scrape(d), "projector_bulk_duration_seconds", nil)
		return now > before
	}, func() string { return "no bulk request was sent" })
	return fmt.Sprintf("%.0f bulk requests done, then %.0f", before, now)
}
