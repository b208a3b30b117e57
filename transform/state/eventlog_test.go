package state

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/projector-dev/projector/capture"
)

// logged is what a test keeps of a logged event.
type logged struct {
	agg  string
	lsn  capture.LSN
	idx  uint32
	kind byte
	typ  string
	raw  string
}

func readLog(t *testing.T, b *Batch, source, entity string) []logged {
	t.Helper()
	var out []logged
	err := b.ScanEventLog(source, entity, func(ev *LoggedEvent) error {
		out = append(out, logged{ev.Aggregate, ev.LSN, ev.Index, ev.Kind, ev.Type, string(ev.Raw)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEventLogOrderAndIdempotence logs events of several aggregates out of
// order, some twice, across two committed batches, and reads each
// aggregate's events back once each, in position order; another entity's
// and another source's logs stay apart.
func TestEventLogOrderAndIdempotence(t *testing.T) {
	store, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	write := func(evs ...LoggedEvent) {
		b := store.NewBatch()
		defer b.Close()
		for i := range evs {
			if err := b.AppendEvent("orders", "order", &evs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// Aggregates whose ids are prefixes of each other, or hold the bytes
	// the key form escapes, must not mix.
	write(
		LoggedEvent{Aggregate: "a", LSN: 0x200, Index: 1, Kind: EventRow, Type: "ItemAdded", ID: "e3", Raw: []byte(`{"n":3}`)},
		rowEvent("a", 0x100, 0, "OrderCreated", "e1"),
		rowEvent("ab", 0x150, 0, "OrderCreated", "e2"),
		rowEvent("a\x00b", 0x150, 1, "OrderCreated", ""),
		rowEvent("a\x01", 0x150, 2, "OrderCreated", ""),
	)
	write(
		rowEvent("a", 0x100, 0, "OrderCreated", "e1"), // sent again after a restart
		rowEvent("a", 0x200, 0, "ItemAdded", "e4"),
		rowEvent("a", 0x1_0000_0000, 0, "OrderApproved", "e5"), // orders after 0x200 numerically
	)
	b := store.NewBatch()
	defer b.Close()
	if err := b.AppendEvent("orders", "other", &LoggedEvent{Aggregate: "a", LSN: 1, Kind: EventMessage, Type: "X", Raw: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if err := b.AppendEvent("orders2", "order", &LoggedEvent{Aggregate: "a", LSN: 1, Kind: EventMessage, Type: "X", Raw: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	got := readLog(t, b, "orders", "order")
	byAgg := map[string][]string{}
	var aggs []string
	for _, ev := range got {
		if len(byAgg[ev.agg]) == 0 {
			aggs = append(aggs, ev.agg)
		}
		byAgg[ev.agg] = append(byAgg[ev.agg], fmt.Sprintf("%s#%d %s", ev.lsn, ev.idx, ev.typ))
	}
	want := map[string][]string{
		"a":      {"0/100#0 OrderCreated", "0/200#0 ItemAdded", "0/200#1 ItemAdded", "1/0#0 OrderApproved"},
		"ab":     {"0/150#0 OrderCreated"},
		"a\x00b": {"0/150#1 OrderCreated"},
		"a\x01":  {"0/150#2 OrderCreated"},
	}
	if len(got) != 7 || len(aggs) != len(want) {
		t.Fatalf("log holds %d events of %d aggregates, want 7 of 4: %+v", len(got), len(aggs), got)
	}
	for agg, w := range want {
		if !slices.Equal(byAgg[agg], w) {
			t.Errorf("aggregate %q: events %q, want %q", agg, byAgg[agg], w)
		}
	}
	if ev := got[slices.IndexFunc(got, func(l logged) bool { return l.idx == 1 && l.agg == "a" })]; ev.raw != `{"n":3}` || ev.kind != EventRow {
		t.Errorf("event read back as %+v", ev)
	}
	for id, want := range map[string]bool{"e1": true, "e3": true, "e5": true, "e9": false, "": false} {
		if ok, err := b.LoggedID("orders", "order", id); err != nil || ok != want {
			t.Errorf("LoggedID(%q) = %v, %v; want %v", id, ok, err, want)
		}
	}
	if ok, _ := b.LoggedID("orders", "other", "e1"); ok {
		t.Error("another entity's log holds event e1")
	}
}

// rowEvent is a row event of aggregate agg at a position.
func rowEvent(agg string, lsn capture.LSN, idx uint32, typ, id string) LoggedEvent {
	return LoggedEvent{Aggregate: agg, LSN: lsn, Index: idx, Kind: EventRow, Type: typ, ID: id, Raw: []byte(`{"id":"` + id + `"}`)}
}

// TestEventLogStoredForm pins the stored form of an event, its id entry
// and the completeness mark: state directories already written hold it.
func TestEventLogStoredForm(t *testing.T) {
	store, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b := store.NewBatch()
	defer b.Close()
	if err := b.StartEventLog("s", "order", true); err != nil {
		t.Fatal(err)
	}
	ev := LoggedEvent{Aggregate: "o1", LSN: 0x0102030405060708, Index: 9, Kind: EventMessage, Type: "OrderCreated", ID: "ev-1", Raw: []byte(`{"a":1}`)}
	if err := b.AppendEvent("s", "order", &ev); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	var keys, vals []string
	err = store.Walk(func(k, v []byte) error {
		if bytes.HasPrefix(k, []byte("e\x00")) {
			keys, vals = append(keys, string(k)), append(vals, string(v))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{
		"e\x00s\x00order\x00iev-1",
		"e\x00s\x00order\x00lo1\x00\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00\x00\x09",
		"e\x00s\x00order\x00m",
	}
	wantVals := []string{"", "\x01m\x0cOrderCreated{\"a\":1}", "\x01"}
	if !slices.Equal(keys, wantKeys) || !slices.Equal(vals, wantVals) {
		t.Errorf("stored\n keys %q\n vals %q\nwant\n keys %q\n vals %q", keys, vals, wantKeys, wantVals)
	}
}

// TestEventLogStart checks the completeness mark and that starting a log
// again forgets the events, their ids and the mark of that entity only.
func TestEventLogStart(t *testing.T) {
	store, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b := store.NewBatch()
	defer b.Close()
	complete := func(entity string) bool {
		ok, err := b.EventLogComplete("s", entity)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if complete("order") {
		t.Fatal("a log never started is complete")
	}
	for _, entity := range []string{"order", "order_line"} {
		if err := b.StartEventLog("s", entity, true); err != nil {
			t.Fatal(err)
		}
		ev := rowEvent("o1", 0x10, 0, "OrderCreated", "e1")
		if err := b.AppendEvent("s", entity, &ev); err != nil {
			t.Fatal(err)
		}
	}
	if !complete("order") {
		t.Fatal("a started log is not complete")
	}
	if err := b.StartEventLog("s", "order", false); err != nil {
		t.Fatal(err)
	}
	if complete("order") || len(readLog(t, b, "s", "order")) != 0 {
		t.Error("the log started again without the mark kept its mark or events")
	}
	if ok, _ := b.LoggedID("s", "order", "e1"); ok {
		t.Error("the log started again kept its event ids")
	}
	if !complete("order_line") || len(readLog(t, b, "s", "order_line")) != 1 {
		t.Error("starting one entity's log again changed another's")
	}
}

// BenchmarkEventLogBytes logs outbox events of the shape the e2e orders
// service writes (about 150 bytes as JSON) and reports what the log takes
// per event: logical bytes (keys and values as written) and bytes of
// table files once flushed and compacted (the write-ahead log is recycled).
func BenchmarkEventLogBytes(b *testing.B) {
	const events = 100000
	for range b.N {
		dir := b.TempDir()
		store, err := Open(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		logical := 0
		for start := 0; start < events; start += 10000 {
			batch := store.NewBatch()
			for i := start; i < start+10000; i++ {
				raw := fmt.Sprintf(`{"id":%d,"aggregatetype":"Order","aggregateid":"%d","type":"ItemAdded","payload":{"qty": %d, "sku": "sku-%d"},"created_at":"2026-12-07T00:44:15.%06dZ"}`,
					i+1, i/8, i%4+1, i%5, i)
				ev := LoggedEvent{Aggregate: strconv.Itoa(i / 8), LSN: capture.LSN(0x9000000 + i*100), Kind: EventRow, Type: "ItemAdded", ID: strconv.Itoa(i + 1), Raw: []byte(raw)}
				if err := batch.AppendEvent("orders", "order", &ev); err != nil {
					b.Fatal(err)
				}
				logical += len(raw)
			}
			if err := batch.Commit(); err != nil {
				b.Fatal(err)
			}
			batch.Close()
		}
		stored := 0
		if err := store.Walk(func(k, v []byte) error { stored += len(k) + len(v); return nil }); err != nil {
			b.Fatal(err)
		}
		if err := store.db.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := store.db.Compact(context.Background(), []byte("e"), []byte("f"), false); err != nil {
			b.Fatal(err)
		}
		total := store.db.Metrics().Total()
		disk := total.TablesSize
		if err := store.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(logical)/events, "event-bytes/event")
		b.ReportMetric(float64(stored)/events, "stored-bytes/event")
		b.ReportMetric(float64(disk)/events, "disk-bytes/event")
	}
}

// TestRefoldMark: the mark is read back only once its batch is committed,
// is kept per entity, stays out of the log's events, and a restarted log
// forgets it.
func TestRefoldMark(t *testing.T) {
	store, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mark := func(entity string) string {
		t.Helper()
		b := store.NewBatch()
		defer b.Close()
		m, err := b.RefoldMark("orders", entity)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	commit := func(fn func(b *Batch) error) {
		t.Helper()
		b := store.NewBatch()
		defer b.Close()
		if err := fn(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	commit(func(b *Batch) error { return b.StartEventLog("orders", "order", true) })
	commit(func(b *Batch) error {
		return b.AppendEvent("orders", "order", &LoggedEvent{Aggregate: "1", LSN: 10, Kind: EventMessage, Type: "Created", Raw: []byte("{}")})
	})
	if m := mark("order"); m != "" {
		t.Fatalf("mark before any refold = %q, want none", m)
	}
	// A batch that is not committed, as in a crash during the refold,
	// leaves no mark.
	b := store.NewBatch()
	if err := b.SetRefoldMark("orders", "order", "lost"); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if m := mark("order"); m != "" {
		t.Fatalf("mark of an uncommitted refold = %q, want none", m)
	}
	commit(func(b *Batch) error { return b.SetRefoldMark("orders", "order", "abc@orders_v2") })
	if m, other := mark("order"), mark("invoice"); m != "abc@orders_v2" || other != "" {
		t.Fatalf("marks = %q and %q, want abc@orders_v2 and none", m, other)
	}
	rb := store.NewBatch()
	if got := readLog(t, rb, "orders", "order"); len(got) != 1 || got[0].agg != "1" {
		t.Errorf("log beside the mark = %+v, want the one event", got)
	}
	rb.Close()
	commit(func(b *Batch) error { return b.StartEventLog("orders", "order", true) })
	if m := mark("order"); m != "" {
		t.Fatalf("mark after the log started over = %q, want none", m)
	}
}
