package capture

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/internal/testbed"
)

func TestServerMajor(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    int
	}{
		{"13.23", 13},
		{"17.12", 17},
		{"18.7", 18},
		{"18beta1 (Debian 18~beta1-1.pgdg120+1)", 18},
		{"15.10 (Debian 15.10-0+deb12u1)", 15},
		{"", 0},
		{"devel", 0},
	} {
		if got := serverMajor(tc.version); got != tc.want {
			t.Errorf("serverMajor(%q) = %d, want %d", tc.version, got, tc.want)
		}
	}
}

// TestFailoverSlot asks for a failover slot, for a new slot and for one
// created earlier without failover. PostgreSQL 17 and later create the
// new one with failover on, turn it on for the existing one, and stream
// through both as usual; older servers stop the source at once with an
// error that names the setting, instead of retrying or quietly streaming
// from an ordinary slot.
func TestFailoverSlot(t *testing.T) {
	t.Parallel()
	fresh, existing := testbed.NewDatabase(t, testbed.Primary), testbed.NewDatabase(t, testbed.Primary)
	itemsTable(fresh, 100)
	itemsTable(existing, 100)
	// The existing slot: a first run without failover takes the snapshot.
	r := newReplica()
	stop := startStream(t, existing, r, Options{}, Checkpoint{})
	r.waitFence(t, existing, time.Minute)
	if err := stop(); err != nil {
		t.Fatalf("first run: %v", err)
	}
	resume := Checkpoint{SnapshotDone: true, Applied: r.lastEnd}

	if serverVersion(t, testbed.Primary) < 170000 {
		for _, db := range []*testbed.Database{fresh, existing} {
			from := Checkpoint{}
			if db == existing {
				from = resume
			}
			src := itemsSource(db)
			s := NewStream(src, Options{FailoverSlot: true, MaxBackoff: time.Second}, NewMetrics(prometheus.NewRegistry()), testLogger(t))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			started := time.Now()
			err := s.Run(ctx, from, func(context.Context, *Transaction) error { return nil })
			if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "capture.failover_slot needs PostgreSQL 17 or later") {
				t.Fatalf("%s: got %v after %s, want the source to stop with an error naming capture.failover_slot", db.Name, err, time.Since(started))
			}
			cancel()
			t.Logf("refused in %s: %v", time.Since(started).Round(time.Millisecond), err)
		}
		var slots int
		queryRow(t, fresh.AdminDSN(), `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, &slots, itemsSource(fresh).SlotName())
		if slots != 0 {
			t.Fatalf("an ordinary slot was created instead")
		}
		return
	}

	for _, db := range []*testbed.Database{fresh, existing} {
		from, rr := Checkpoint{}, newReplica()
		if db == existing {
			from, rr = resume, r
		}
		stop := startStream(t, db, rr, Options{FailoverSlot: true}, from)
		db.Exec(`UPDATE items SET v = v + 1 WHERE id <= 10`)
		rr.waitFence(t, db, time.Minute)
		rr.compare(t, db)
		if err := stop(); err != nil {
			t.Fatalf("%s: %v", db.Name, err)
		}
		var failover bool
		queryRow(t, db.AdminDSN(), `SELECT failover FROM pg_replication_slots WHERE slot_name = $1`, &failover, itemsSource(db).SlotName())
		if !failover {
			t.Fatalf("%s: slot without failover", db.Name)
		}
	}
}

func itemsSource(db *testbed.Database) Source {
	return Source{Name: db.Name, DSN: db.DSN(), Tables: []Table{{Schema: "public", Name: "items"}, fencesTable}}
}

// startStream runs a stream over the items table from a checkpoint until
// the returned stop is called, which returns how the stream ended.
func startStream(t *testing.T, db *testbed.Database, r *replica, opts Options, from Checkpoint) (stop func() error) {
	t.Helper()
	opts.StatusInterval, opts.MaxBackoff = 500*time.Millisecond, time.Second
	s := NewStream(itemsSource(db), opts, NewMetrics(prometheus.NewRegistry()), testLogger(t))
	r.stream = s
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, from, r.deliver) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			if err = <-errc; errors.Is(err, context.Canceled) {
				err = nil
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}
