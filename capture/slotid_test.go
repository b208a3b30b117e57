package capture

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/internal/testbed"
)

// memMarks keeps slot marks in memory.
type memMarks struct {
	mu  sync.Mutex
	lsn LSN
	ok  bool
}

func (m *memMarks) SlotMark() (LSN, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lsn, m.ok, nil
}

func (m *memMarks) SetSlotMark(lsn LSN) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lsn, m.ok = lsn, true
	return nil
}

func (m *memMarks) get() LSN {
	lsn, _, _ := m.SlotMark()
	return lsn
}

// TestSlotIdentity lets an idle source's slot follow the server's WAL
// past what was applied, restarts the stream (the slot is still its own),
// then replaces the slot under the same name: the stream must refuse it.
func TestSlotIdentity(t *testing.T) {
	t.Parallel()
	server := testbed.NewPrivateServer(t)
	db, busy := server.NewDatabase(), server.NewDatabase()
	itemsTable(db, 10)
	marks := &memMarks{}
	src := Source{Name: db.Name, DSN: db.DSN(), Tables: []Table{{Schema: "public", Name: "items"}}}
	var applied atomic.Uint64
	var snapshotDone atomic.Bool
	// run starts a stream; stop ends it and returns its error, unless
	// the error was read from errc already.
	run := func(from Checkpoint) (stop func() error, errc <-chan error) {
		s := NewStream(src, Options{StatusInterval: 200 * time.Millisecond, MaxBackoff: time.Second, Marks: marks},
			NewMetrics(prometheus.NewRegistry()), testLogger(t))
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan error, 1)
		go func() {
			ch <- s.Run(ctx, from, func(_ context.Context, txn *Transaction) error {
				if txn.SnapshotDone {
					snapshotDone.Store(true)
				}
				applied.Store(max(applied.Load(), uint64(txn.EndLSN)))
				s.Confirm(txn.EndLSN)
				return nil
			})
		}()
		return func() error { cancel(); return <-ch }, ch
	}
	resumed := func() Checkpoint { return Checkpoint{SnapshotDone: true, Applied: LSN(applied.Load())} }

	stop, _ := run(Checkpoint{})
	waitFor(t, "the snapshot", snapshotDone.Load)
	busy.Exec(`CREATE TABLE filler (id int, pad text); INSERT INTO filler SELECT g, repeat('p', 200) FROM generate_series(1, 50000) g`)
	var endText string
	queryRow(t, server.AdminDSN(), `SELECT pg_current_wal_lsn()::text`, &endText)
	end, err := ParseLSN(endText)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle slot to follow the server's WAL", func() bool {
		return confirmedFlush(t, server.AdminDSN(), src.SlotName()) >= end
	})
	if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("first stream: %v", err)
	}
	confirmed := confirmedFlush(t, server.AdminDSN(), src.SlotName())
	if confirmed <= LSN(applied.Load()) {
		t.Fatalf("the slot (%s) did not move past what was applied (%s): the test shows nothing", confirmed, LSN(applied.Load()))
	}
	if marks.get() < confirmed {
		t.Errorf("the slot confirmed %s but the mark is %s", confirmed, marks.get())
	}

	// The slot is ahead of what was applied, but it is the stream's own.
	stop, _ = run(resumed())
	before := applied.Load()
	db.Exec(`INSERT INTO items (id, payload) VALUES (1000, 'after the restart')`)
	waitFor(t, "the change after the restart", func() bool { return applied.Load() > before })
	if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("resumed stream: %v", err)
	}

	// The stopped stream's walsender may hold the slot a moment longer.
	waitFor(t, "the stopped stream to release its slot", func() bool { return activePID(t, server.AdminDSN(), src.SlotName()) == 0 })
	db.Exec(`SELECT pg_drop_replication_slot($1)`, src.SlotName())
	db.Exec(`INSERT INTO items (id, payload) VALUES (1001, 'in neither slot')`)
	db.Exec(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, src.SlotName())
	stop, errc := run(resumed())
	select {
	case err := <-errc:
		if !errors.Is(err, ErrSlotLost) || !strings.Contains(err.Error(), "is not the slot projector's state follows") {
			t.Errorf("stream on a replaced slot: %v, want ErrSlotLost naming the replacement", err)
		}
	case <-time.After(time.Minute):
		t.Error("the stream took a replaced slot for its own")
		stop() //nolint:errcheck // the test failed already
	}
}
