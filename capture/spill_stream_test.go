package capture

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestSpilledTransactions streams a transaction far past the spill
// threshold (with logical_decoding_work_mem at 64kB on the replication
// connection only, so the server streams it in progress where it can) and
// one that aborts after streaming. The committed one arrives in several
// pages sharing its position, without its rolled-back subtransaction, and
// nothing confirms its position before its last page; the aborted one
// never arrives. The spill files are gone at the end and the bytes of open
// transactions are back to zero.
func TestSpilledTransactions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		version  int
		streamed bool
		slow     time.Duration
	}{
		// The server streams the large transactions in progress.
		{name: "streamed", version: 0, streamed: true},
		// Protocol 1, as PostgreSQL 13 speaks it: the server sends the
		// committed one whole at its commit, and never the aborted one.
		{name: "sent at commit", version: 1},
		// Pages taken slowly, one at a time, for longer than the server's
		// wal_sender_timeout (2 s here): the server still hears from
		// projector in time and keeps the connection.
		{name: "slow downstream", version: 0, streamed: true, slow: 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testSpilledTransactions(t, tc.version, tc.streamed, tc.slow)
		})
	}
}

func testSpilledTransactions(t *testing.T, version int, streamed bool, slow time.Duration) {
	db := testbed.NewDatabase(t, testbed.Primary)
	itemsTable(db, 1000)
	u, err := url.Parse(db.DSN())
	if err != nil {
		t.Fatal(err)
	}
	// Encoded by hand: pgconn reads "+" as itself, not as a space.
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "options=-c%20logical_decoding_work_mem%3D64kB%20-c%20wal_sender_timeout%3D2s"
	src := Source{Name: db.Name, DSN: u.String(), Tables: []Table{{Schema: "public", Name: "items"}, fencesTable}}

	dir := filepath.Join(t.TempDir(), "spill")
	buffer := 0 // the default
	if slow > 0 {
		buffer = 1 // every page waits for downstream
	}
	m := NewMetrics(prometheus.NewRegistry())
	s := NewStream(src, Options{StatusInterval: 500 * time.Millisecond, MaxBackoff: time.Second,
		SpillDir: dir, SpillThreshold: 64 << 10, Buffer: buffer}, m, testLogger(t))
	s.protoVersion = version
	r := newReplica()
	r.stream = s
	var mu sync.Mutex
	pages := map[LSN]int{} // pages with More, by position
	var early []string
	deliver := func(ctx context.Context, txn *Transaction) error {
		if !txn.More {
			return r.deliver(ctx, txn)
		}
		mu.Lock()
		pages[txn.EndLSN]++
		if c := s.Confirmed(); c >= txn.EndLSN {
			early = append(early, txn.EndLSN.String())
		}
		mu.Unlock()
		time.Sleep(slow)
		// A page is applied, but only the last one is confirmed.
		r.ack.Store(false)
		defer r.ack.Store(true)
		return r.deliver(ctx, txn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx, Checkpoint{}, deliver) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stream stopped: %v", err)
		}
	}
	t.Cleanup(stop)
	r.waitFence(t, db, time.Minute)

	db.Exec(`BEGIN;
		INSERT INTO items (id, payload) SELECT g, repeat('c', 200) FROM generate_series(10001, 30000) g;
		UPDATE items SET v = v + 1, payload = 'updated' WHERE id <= 1000;
		SAVEPOINT s;
		INSERT INTO items (id, payload) SELECT g, repeat('s', 200) FROM generate_series(40001, 42000) g;
		UPDATE items SET v = v + 1 WHERE id <= 500;
		ROLLBACK TO SAVEPOINT s;
		DELETE FROM items WHERE id BETWEEN 901 AND 1000;
		COMMIT`)
	db.Exec(`BEGIN;
		INSERT INTO items (id, payload) SELECT g, repeat('a', 200) FROM generate_series(50001, 70000) g;
		UPDATE items SET v = v + 1 WHERE id <= 800;
		DELETE FROM items WHERE id BETWEEN 10001 AND 10500;
		ROLLBACK`)
	r.waitFence(t, db, 2*time.Minute)
	r.compare(t, db)

	mu.Lock()
	var paged int
	for _, n := range pages {
		paged = max(paged, n)
	}
	if paged < 5 {
		t.Errorf("the large transaction came in %d pages with more to follow, want at least 5: %v", paged, pages)
	}
	if len(early) > 0 {
		t.Errorf("positions confirmed before their transaction's last page: %v", early)
	}
	mu.Unlock()
	if got := testutil.ToFloat64(m.spilledBytes.WithLabelValues(src.Name)); got < 1<<20 {
		t.Errorf("projector_source_spilled_bytes_total = %v, want the large transactions' MBs", got)
	}
	if got := testutil.ToFloat64(m.errors); got != 0 {
		t.Errorf("projector_errors_total{stage=\"capture\"} = %v, want no reconnect", got)
	}
	if got := testutil.ToFloat64(m.transactionBytes.WithLabelValues(src.Name)); got != 0 {
		t.Errorf("projector_source_transaction_bytes = %v with no transaction open, want 0", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("spill files left with no transaction open: %v", left)
	}
	if streamed && serverVersion(t, testbed.Primary) >= 140000 {
		var streamed int64
		waitFor(t, "the large transactions to be counted as streamed", func() bool {
			queryRow(t, db.AdminDSN(), `SELECT coalesce((SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = $1), 0)`,
				&streamed, src.SlotName())
			return streamed >= 1
		})
	}
	stop()
}
