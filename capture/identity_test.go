package capture_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/capture/envelope"
	"github.com/projector-dev/projector/internal/testbed"
)

// TestFullIdentityKey follows changes of REPLICA IDENTITY FULL tables
// through Tail: their Key is the primary key that makes the document id,
// not every column the server flags, and an update's Changed names only
// the columns whose value changed.
func TestFullIdentityKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE full_pk (b int, a text, v text, n numeric, PRIMARY KEY (a, b))`)
	db.Exec(`ALTER TABLE full_pk REPLICA IDENTITY FULL`)
	db.Exec(`CREATE TABLE full_nokey (a int, v text)`)
	db.Exec(`ALTER TABLE full_nokey REPLICA IDENTITY FULL`)
	db.Exec(`CREATE TABLE plain (id int PRIMARY KEY, v text)`)
	src := capture.Source{Name: "shop", DSN: db.DSN(),
		Tables: []capture.Table{{Schema: "public", Name: "full_pk"}, {Schema: "public", Name: "full_nokey"}, {Schema: "public", Name: "plain"}}}

	got := make(chan capture.Change, 100)
	started := &logWatch{text: "tailing", seen: make(chan struct{})}
	tailed := make(chan error, 1)
	tailCtx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		<-tailed
	}()
	go func() {
		tailed <- capture.Tail(tailCtx, src, slog.New(slog.NewTextHandler(started, nil)), func(_ context.Context, txn *capture.Transaction) error {
			for _, c := range txn.Changes {
				got <- c
			}
			return nil
		})
	}()
	// Tail logs "tailing" once its slot is consistent and streaming: the
	// changes made from then on are the ones it follows.
	select {
	case <-started.seen:
	case err := <-tailed:
		t.Fatalf("tail ended before it started: %v", err)
	case <-ctx.Done():
		t.Fatal("tail did not start")
	}

	db.Exec(`INSERT INTO full_pk VALUES (1, 'x', 'old', 1.50)`)
	db.Exec(`UPDATE full_pk SET v = 'new' WHERE a = 'x'`)
	db.Exec(`DELETE FROM full_pk`)
	db.Exec(`INSERT INTO full_nokey VALUES (1, 'old')`)
	db.Exec(`UPDATE full_nokey SET v = 'new'`)
	db.Exec(`INSERT INTO plain VALUES (1, 'old')`)
	db.Exec(`UPDATE plain SET v = 'new'`)

	want := []struct {
		table   string
		op      capture.Op
		key     []string
		changed []string
	}{
		{"full_pk", capture.Insert, []string{"a", "b"}, nil},
		{"full_pk", capture.Update, []string{"a", "b"}, []string{"v"}},
		{"full_pk", capture.Delete, []string{"a", "b"}, nil},
		{"full_nokey", capture.Insert, nil, nil},
		{"full_nokey", capture.Update, nil, []string{"v"}},
		{"plain", capture.Insert, []string{"id"}, nil},
		{"plain", capture.Update, []string{"id"}, []string{"id", "v"}}, // old values unknown
	}
	for i, w := range want {
		var c capture.Change
		select {
		case c = <-got:
		case err := <-tailed:
			t.Fatalf("tail ended after %d changes: %v", i, err)
		case <-ctx.Done():
			t.Fatalf("only %d changes arrived", i)
		}
		if c.Table.Name != w.table || c.Op != w.op || !slices.Equal(c.Key, w.key) || !slices.Equal(envelope.Changed(&c), w.changed) {
			t.Errorf("change %d: %s %s, key %v, changed %v; want %s %s, key %v, changed %v",
				i, c.Op, c.Table.Name, c.Key, envelope.Changed(&c), w.op, w.table, w.key, w.changed)
		}
	}
}

// logWatch is a log destination that closes seen once a line holds text.
type logWatch struct {
	mu   sync.Mutex
	text string
	seen chan struct{}
	done bool
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && strings.Contains(string(p), w.text) {
		w.done = true
		close(w.seen)
	}
	return len(p), nil
}
