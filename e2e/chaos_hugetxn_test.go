package e2e

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestChaosHugeTransaction kills projector with SIGKILL twice in one huge
// UPDATE of every row of a narrow table: first while the server streams
// the transaction, still open, into projector's spill file, then, once it
// committed, while its pages are being applied and written. Each time
// projector starts again on the same state: the server sends the
// unconfirmed transaction again, whole, and it is applied again. The index
// ends equal to the table (verify), and no document the watch samples ever
// shows an older revision.
func TestChaosHugeTransaction(t *testing.T) {
	fx := newHugeFixture(t, chaosHugeRows)
	d := startDaemon(t, fx.cfg, fx.addr)
	d.waitReady(10 * time.Minute)
	fx.waitCount(t, fx.rows)
	watch := watchVersions(t, fx.search, fx.alias)
	kill := func(why string) {
		t.Helper()
		if err := d.stop(syscall.SIGKILL, 30*time.Second); err == nil {
			t.Fatal("projector survived SIGKILL")
		}
		t.Logf("killed projector %s", why)
		d = startDaemon(t, fx.cfg, fx.addr)
	}
	spilled := func() float64 {
		v, _ := sample(d.metrics(), "projector_source_spilled_bytes_total", map[string]string{"source": "app"})
		return v
	}

	conn := fx.db.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE narrow SET v = v + 1`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Minute, func() bool { return spilled() > 0 },
		func() string { return "the open transaction was never streamed into a spill file" })
	kill("while the open transaction was streamed into its spill file")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// Once some of the update's documents are written, but not all.
	updated := 0
	eventually(t, 10*time.Minute, func() bool {
		updated = countMatching(t, fx.search, fx.alias, `{"query":{"term":{"v":1}}}`)
		return updated > 0
	}, func() string { return "no document of the update was ever written" })
	if updated >= fx.rows {
		t.Logf("all %d documents were written before the second kill", updated)
	}
	kill(fmt.Sprintf("with %d of %d updated documents written", updated, fx.rows))
	killed := time.Now()

	fx.fence(t, 3*fx.rows+1)
	t.Logf("the update and a row after it applied %s after the second kill", time.Since(killed).Round(100*time.Millisecond))
	verifyViews(t, fx.cfg, nil, "narrow")
	fx.waitCount(t, fx.rows+1)
	watch.finish(t)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector did not stop cleanly: %v", err)
	}
}
