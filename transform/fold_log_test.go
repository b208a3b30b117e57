package transform

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/fold"
)

// changedOrderEntity is orderEntity with a changed reducer: ItemAdded also
// counts the items ever added, so an event folded twice shows, and an
// approved order is "OK".
func changedOrderEntity(messages bool, keep string) config.EventStream {
	s := orderEntity(messages)
	s.Keep = keep
	s.Fields = map[string]string{"consumer_id": "bigint", "state": "text", "items": "jsonb", "added": "bigint"}
	s.On = map[string]config.Reducer{
		"OrderCreated": s.On["OrderCreated"],
		"ItemAdded": {JQ: `. as $in | $in.state + {items: ([($in.state.items // [])[] | select(.sku != $in.event.sku)] + [$in.event]),
			added: (($in.state.added // 0) + 1)}`},
		"ItemRemoved":    s.On["ItemRemoved"],
		"OrderApproved":  {Set: map[string]string{"state": `"OK"`}},
		"OrderCancelled": s.On["OrderCancelled"],
	}
	return s
}

// logBuffer collects what an engine logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// snapshotOf sends a source's whole snapshot in one transaction at lsn:
// the outbox rows it copies, none for messages.
func (h *harness) snapshotOf(lsn capture.LSN, rows ...capture.Change) {
	h.t.Helper()
	for i := range rows {
		rows[i].Op = capture.Read
	}
	h.in <- &capture.Transaction{Source: "orders", CommitLSN: lsn, EndLSN: lsn, Snapshot: true, Reset: true, SnapshotDone: true,
		Changes: rows, Copied: []capture.Table{tbl("outbox")}}
	h.sync("orders", lsn)
}

// TestRefoldFromEventLog folds events of which the outbox keeps only some
// (the others deleted right after insert), or messages, then changes the
// reducer: the source's new snapshot folds every entity again from the
// event log, with the new reducer, and the events the outbox still holds
// are not folded twice. With keep: none, or a lost state, only the events
// the table holds are folded, and the log says what is not.
func TestRefoldFromEventLog(t *testing.T) {
	for _, tt := range []struct {
		name      string
		messages  bool
		keep      string
		lostState bool
	}{
		{"outbox", false, config.KeepAll, false},
		{"messages", true, config.KeepAll, false},
		{"outbox keep none", false, config.KeepNone, false},
		{"messages keep none", true, config.KeepNone, false},
		{"outbox lost state", false, config.KeepAll, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			stream := orderEntity(tt.messages)
			stream.Keep = tt.keep
			logs := &logBuffer{}
			h, _ := newFoldHarnessOf(t, dir, stream, slog.New(slog.NewTextHandler(logs, nil)))
			// The outbox holds one event when projector starts.
			kept := []capture.Change{outbox(1, "1", "OrderCreated", `{"consumerId": 7}`)}
			if tt.messages {
				kept = nil
			}
			h.snapshotOf(100, kept...)
			if !strings.Contains(logs.String(), "entity folded from the start") {
				t.Errorf("the first snapshot does not say the entity is folded from the start:\n%s", logs)
			}
			h.lsn = 100
			if tt.messages {
				h.publish(true, [3]string{"1", "OrderCreated", `{"consumerId": 7}`})
			}
			h.publish(tt.messages,
				[3]string{"1", "ItemAdded", `{"sku": "a", "qty": 1}`},
				[3]string{"1", "ItemAdded", `{"sku": "b", "qty": 2}`},
				[3]string{"2", "OrderCreated", `{"consumerId": 8}`},
			)
			h.publish(tt.messages, [3]string{"1", "ItemAdded", `{"sku": "a", "qty": 3}`}, [3]string{"2", "OrderCancelled", `{}`})
			// One event the housekeeping has not deleted yet.
			last := outbox(90, "1", "OrderApproved", `{}`)
			if tt.messages {
				h.sync("orders", h.publish(true, [3]string{"1", "OrderApproved", `{}`}))
			} else {
				h.sync("orders", h.txn("orders", last))
				kept = append(kept, last)
			}
			if got := orderDoc(t, h, "1")["state"]; got != "APPROVED" {
				t.Fatalf("order 1 is %v before the change, want APPROVED", got)
			}
			lsn := h.lsn
			h.stop()

			// The reducer changes: the source starts over with a new
			// snapshot, which copies the events the outbox still holds
			// and one committed since projector stopped.
			if tt.lostState {
				dir = t.TempDir()
			}
			logs = &logBuffer{}
			h, _ = newFoldHarnessOf(t, dir, changedOrderEntity(tt.messages, tt.keep), slog.New(slog.NewTextHandler(logs, nil)))
			if !tt.messages {
				kept = append(kept, outbox(95, "3", "OrderCreated", `{"consumerId": 9}`))
			}
			h.snapshotOf(lsn+1000, kept...)

			all := tt.keep == config.KeepAll && !tt.lostState
			want1 := map[string]any{"id": "1", "consumer_id": 7.0, "state": "OK", "added": 3.0, "consumer": nil,
				"items": []any{map[string]any{"sku": "b", "qty": 2.0}, map[string]any{"sku": "a", "qty": 3.0}}}
			var want3 map[string]any
			if !tt.messages {
				want3 = map[string]any{"id": "3", "consumer_id": 9.0, "state": "PENDING", "consumer": nil}
			}
			switch {
			case all:
				if !strings.Contains(logs.String(), "entity folded again from its event log") || !strings.Contains(logs.String(), "aggregates=2") {
					t.Errorf("the refold is not logged with its counts:\n%s", logs)
				}
			case tt.messages:
				want1 = nil // no message is left to fold
			default:
				// Only the events the outbox still holds.
				want1 = map[string]any{"id": "1", "consumer_id": 7.0, "state": "OK", "consumer": nil}
			}
			if !all {
				what := "events deleted from table public.outbox before now are not folded"
				if tt.messages {
					what = "messages sent before now are not folded"
				}
				if !strings.Contains(logs.String(), what) {
					t.Errorf("the log does not say %q:\n%s", what, logs)
				}
			}
			if diff := cmp.Diff(want1, orderDoc(t, h, "1")); diff != "" {
				t.Errorf("order 1 after the reducer changed (-want +got):\n%s", diff)
			}
			if got := orderDoc(t, h, "2"); got != nil {
				t.Errorf("cancelled order 2 is back: %v", got)
			}
			if diff := cmp.Diff(want3, orderDoc(t, h, "3")); diff != "" {
				t.Errorf("order 3, copied by the new snapshot only (-want +got):\n%s", diff)
			}

			// Events go on folding onto the refolded entities, and a
			// second change refolds them all again, once each.
			h.lsn = lsn + 2000
			h.sync("orders", h.publish(tt.messages, [3]string{"1", "ItemRemoved", `{"sku": "b"}`}))
			h.stop()
			logs = &logBuffer{}
			changed := changedOrderEntity(tt.messages, tt.keep)
			changed.On["OrderApproved"] = config.Reducer{Set: map[string]string{"state": `"FINE"`}}
			h, _ = newFoldHarnessOf(t, dir, changed, slog.New(slog.NewTextHandler(logs, nil)))
			h.snapshotOf(lsn+3000, kept...)
			if all {
				want1["state"] = "FINE"
				want1["items"] = []any{map[string]any{"sku": "a", "qty": 3.0}}
				if diff := cmp.Diff(want1, orderDoc(t, h, "1")); diff != "" {
					t.Errorf("order 1 after a second change (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestRowJSONReadsBack: an event row written for the log reads back as the
// snapshot's staging reads its rows, so a refold sees the same event.
func TestRowJSONReadsBack(t *testing.T) {
	f := &folds{}
	row := capture.Row{"id": int64(7), "type": "ItemAdded", "aggregateid": "o\"1", "payload": json.RawMessage(`{"sku":"a<b","n":[1,2.5]}`), "note": nil}
	logged, err := decodeRow(f.rowJSON(row))
	if err != nil {
		t.Fatal(err)
	}
	staged, err := decodeRow(mustJSON(t, jsonRow(row)))
	if err != nil {
		t.Fatal(err)
	}
	cols := config.DefaultEventColumns()
	want, err := fold.RowEvent(cols, staged)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fold.RowEvent(cols, logged)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event read back (-staged +logged):\n%s", diff)
	}
	if want.AggregateID != `o"1` || want.ID != "7" {
		t.Errorf("event read back as %+v", want)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRefoldKeepsTheStream: a changed reducer refolds the entity from its
// event log when the engine starts (Options.Refolds), with no new
// snapshot; the events the source sends after that, published while
// projector was stopped, fold onto the refolded entity in commit order,
// each once. A stop after the refold is committed but before its
// documents are acknowledged leaves them pending: the next start sends
// them and refolds nothing. Starting again with the same token refolds
// nothing; another token refolds again to the same documents, each event
// once.
func TestRefoldKeepsTheStream(t *testing.T) {
	for _, messages := range []bool{false, true} {
		t.Run(map[bool]string{false: "outbox", true: "messages"}[messages], func(t *testing.T) {
			dir := t.TempDir()
			h, _ := newFoldHarnessOf(t, dir, orderEntity(messages), slog.New(slog.NewTextHandler(io.Discard, nil)))
			h.snapshotOf(100)
			h.publish(messages, [3]string{"1", "OrderCreated", `{"consumerId": 7}`}, [3]string{"1", "ItemAdded", `{"sku": "a", "qty": 1}`})
			h.publish(messages, [3]string{"2", "OrderCreated", `{"consumerId": 8}`}, [3]string{"1", "OrderApproved", `{}`})
			h.sync("orders", h.publish(messages, [3]string{"1", "ItemAdded", `{"sku": "b", "qty": 2}`}))
			if got := orderDoc(t, h, "1")["state"]; got != "APPROVED" {
				t.Fatalf("order 1 is %v before the change, want APPROVED", got)
			}
			lsn := h.lsn
			h.stop()

			// A stop after the refold is committed and before its
			// documents are acknowledged (as in a crash): the next start
			// finds the refold marked done and sends its documents again.
			held := newMemoryIndex()
			held.hold = true
			h, _ = newFoldHarnessWith(t, dir, changedOrderEntity(messages, config.KeepAll), slog.New(slog.NewTextHandler(io.Discard, nil)),
				held, Refold{Source: "orders", Entity: "order", Token: "v2"})
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
				held.mu.Lock()
				writes := held.writes
				held.mu.Unlock()
				if writes > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the refold sent no document")
				}
			}
			if h.engine.Refolded() {
				t.Error("the refold is reported done before its documents are acknowledged")
			}
			h.stop()

			start := func(token string, refolds bool) *logBuffer {
				t.Helper()
				logs := &logBuffer{}
				h, _ = newFoldHarnessOf(t, dir, changedOrderEntity(messages, config.KeepAll), slog.New(slog.NewTextHandler(logs, nil)),
					Refold{Source: "orders", Entity: "order", Token: token})
				deadline := time.Now().Add(time.Minute)
				for !h.engine.Refolded() {
					if time.Now().After(deadline) {
						t.Fatal("the refold is not reported done")
					}
					time.Sleep(time.Millisecond)
				}
				if got := strings.Contains(logs.String(), "entity folded again from its event log"); got != refolds {
					t.Errorf("refold logged = %v, want %v:\n%s", got, refolds, logs)
				}
				return logs
			}
			if logs := start("v2", false); !strings.Contains(logs.String(), "sent documents left pending at the last stop") {
				t.Errorf("the refold's documents are not sent again:\n%s", logs)
			}
			want1 := map[string]any{"id": "1", "consumer_id": 7.0, "state": "OK", "added": 2.0, "consumer": nil,
				"items": []any{map[string]any{"sku": "a", "qty": 1.0}, map[string]any{"sku": "b", "qty": 2.0}}}
			if diff := cmp.Diff(want1, orderDoc(t, h, "1")); diff != "" {
				t.Errorf("order 1 refolded (-want +got):\n%s", diff)
			}
			// Published while stopped, sent by the same slot: an event
			// applied before (at lsn) is not folded again, the new ones are.
			h.lsn = lsn - 10
			h.publish(messages, [3]string{"1", "ItemAdded", `{"sku": "b", "qty": 2}`})
			h.publish(messages, [3]string{"1", "ItemAdded", `{"sku": "c", "qty": 3}`}, [3]string{"3", "OrderCreated", `{"consumerId": 9}`})
			h.sync("orders", h.publish(messages, [3]string{"3", "OrderApproved", `{}`}, [3]string{"2", "OrderCancelled", `{}`}))
			want1["added"] = 3.0
			want1["items"] = append(want1["items"].([]any), map[string]any{"sku": "c", "qty": 3.0})
			want3 := map[string]any{"id": "3", "consumer_id": 9.0, "state": "OK", "consumer": nil}
			check := func(when string) {
				t.Helper()
				if diff := cmp.Diff(want1, orderDoc(t, h, "1")); diff != "" {
					t.Errorf("order 1 %s (-want +got):\n%s", when, diff)
				}
				if diff := cmp.Diff(want3, orderDoc(t, h, "3")); diff != "" {
					t.Errorf("order 3 %s (-want +got):\n%s", when, diff)
				}
				if got := orderDoc(t, h, "2"); got != nil {
					t.Errorf("cancelled order 2 %s: %v", when, got)
				}
			}
			check("after the events published while stopped")
			h.stop()
			// Each start has a fresh index: one with the same token
			// sends nothing, as nothing is refolded or pending.
			start("v2", false)
			if got := orderDoc(t, h, "1"); got != nil {
				t.Errorf("order 1 sent again by a start with the same token: %v", got)
			}
			h.stop()
			start("v3", true)
			check("refolded again")
		})
	}
}
