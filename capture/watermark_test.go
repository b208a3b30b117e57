package capture

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

func TestWindow(t *testing.T) {
	orders := Table{Schema: "public", Name: "orders"}
	other := Table{Schema: "public", Name: "items"}
	key := []string{"tenant", "id"}
	row := func(tenant string, id int64) Row { return Row{"tenant": tenant, "id": id, "note": "copied"} }
	read := func(tenant string, id int64) Change {
		return Change{Op: Read, Table: orders, Key: key, New: row(tenant, id)}
	}
	chunk := []Change{read("a", 1), read("a", 2), read("b", 1), read("b", 2)}
	ins := func(tb Table, tenant string, id int64) Change {
		return Change{Op: Insert, Table: tb, Key: key, New: row(tenant, id)}
	}
	del := func(tenant string, id int64) Change {
		return Change{Op: Delete, Table: orders, Key: key, Old: Row{"tenant": tenant, "id": id}}
	}
	moved := Change{Op: Update, Table: orders, Key: key, Old: Row{"tenant": "a", "id": int64(2)}, New: row("c", 9)}
	tests := []struct {
		name string
		// early are changed before the chunk is opened, before between its
		// opening and the low watermark, inside between the two
		// watermarks, after after the high one.
		early, before, inside, after []Change
		want                         []string // encoded keys delivered at the high watermark
		retry                        bool
	}{
		{name: "quiet", want: []string{`["a",1]`, `["a",2]`, `["b",1]`, `["b",2]`}},
		{name: "changes before the chunk opened are not the window's", early: []Change{del("a", 1), ins(orders, "b", 2)},
			want: []string{`["a",1]`, `["a",2]`, `["b",1]`, `["b",2]`}},
		{name: "changes before the low watermark are left out too", before: []Change{del("a", 1), ins(orders, "b", 2)},
			want: []string{`["a",2]`, `["b",1]`}},
		{name: "stream wins inside the window", inside: []Change{ins(orders, "a", 1), del("b", 2)},
			want: []string{`["a",2]`, `["b",1]`}},
		{name: "a moved key leaves out old and new", inside: []Change{moved}, want: []string{`["a",1]`, `["b",1]`, `["b",2]`}},
		{name: "other tables do not count", inside: []Change{ins(other, "a", 1)},
			want: []string{`["a",1]`, `["a",2]`, `["b",1]`, `["b",2]`}},
		{name: "truncate voids the chunk", inside: []Change{{Op: Truncate, Table: orders, Key: key}}, want: nil},
		{name: "changes after the high watermark are not the window's", after: []Change{del("a", 1)},
			want: []string{`["a",1]`, `["a",2]`, `["b",1]`, `["b",2]`}},
		{name: "a change without its key copies the chunk again",
			inside: []Change{{Op: Delete, Table: orders, Key: key, Old: Row{"id": int64(1)}}}, retry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow("slot")
			id := chunkID{run: "r", chunk: 7}
			lsn := LSN(100)
			next := func(changes []Change, marks ...watermark) *Transaction {
				lsn += 10
				txn := &Transaction{CommitLSN: lsn, EndLSN: lsn, Changes: changes}
				for _, m := range marks {
					b, _ := json.Marshal(m)
					txn.Messages = append(txn.Messages, Message{Prefix: WatermarkPrefix, Content: b, Transactional: true})
				}
				w.observe(txn)
				return txn
			}
			next(tt.early)
			done := w.open(id, orders, key)
			next(tt.before)
			next(nil, watermark{Slot: "other", Run: "r", Chunk: 7}) // another source's
			next(nil, watermark{Slot: "slot", Run: "r", Chunk: 7})
			next(tt.inside)
			w.fill(id, append([]Change(nil), chunk...), 400)
			high := next(nil, watermark{Slot: "slot", Run: "r", Chunk: 7, High: true})
			next(tt.after)
			var res chunkResult
			select {
			case res = <-done:
			default:
				t.Fatal("no result at the high watermark")
			}
			if res.retry != tt.retry {
				t.Fatalf("retry = %v, want %v", res.retry, tt.retry)
			}
			if res.at != high.EndLSN {
				t.Errorf("chunk delivered at %s, want the high watermark's %s", res.at, high.EndLSN)
			}
			var got []string
			for _, c := range high.Changes {
				k, _ := encodeChunkKey(key, c.New)
				got = append(got, k)
			}
			if !slices.Equal(got, tt.want) || res.delivered != len(tt.want) {
				t.Errorf("delivered %v (%d), want %v", got, res.delivered, tt.want)
			}
			// Decoded again after a reconnect, the watermark carries the
			// same rows.
			again := &Transaction{CommitLSN: high.CommitLSN, EndLSN: high.EndLSN, Messages: high.Messages}
			w.observe(again)
			if len(again.Changes) != len(high.Changes) {
				t.Errorf("redelivered watermark carries %d rows, want %d", len(again.Changes), len(high.Changes))
			}
		})
	}
}

func TestWindowIgnoresUnknownChunks(t *testing.T) {
	orders := Table{Schema: "public", Name: "orders"}
	w := newWindow("slot")
	done := w.open(chunkID{run: "new", chunk: 1}, orders, []string{"id"})
	w.fill(chunkID{run: "new", chunk: 1}, []Change{{Op: Read, Table: orders, New: Row{"id": int64(1)}}}, 10)
	for _, m := range []watermark{{Slot: "slot", Run: "old", Chunk: 1}, {Slot: "slot", Run: "old", Chunk: 1, High: true},
		{Slot: "slot", Run: "new", Chunk: 1, High: true}} { // a high watermark without its low one
		b, _ := json.Marshal(m)
		txn := &Transaction{EndLSN: 5, Messages: []Message{{Prefix: WatermarkPrefix, Content: b}}}
		w.observe(txn)
		if len(txn.Changes) != 0 {
			t.Fatalf("watermark %+v carries %d rows", m, len(txn.Changes))
		}
	}
	select {
	case res := <-done:
		t.Fatalf("chunk finished at a watermark not its own: %+v", res)
	default:
	}
}

// TestWindowCountsChangesBetweenChunks: a change the stream delivers
// during or after one chunk, before the next chunk's watermarks, still
// leaves its key out of the next chunk, whose SELECT may not see it yet.
func TestWindowCountsChangesBetweenChunks(t *testing.T) {
	orders := Table{Schema: "public", Name: "orders"}
	key := []string{"id"}
	w := newWindow("slot")
	mark := func(chunk int64, high bool) *Transaction {
		b, _ := json.Marshal(watermark{Slot: "slot", Run: "r", Chunk: chunk, High: high})
		txn := &Transaction{EndLSN: LSN(chunk*10 + 1), Messages: []Message{{Prefix: WatermarkPrefix, Content: b}}}
		w.observe(txn)
		return txn
	}
	rows := func(ids ...int64) []Change {
		var out []Change
		for _, id := range ids {
			out = append(out, Change{Op: Read, Table: orders, Key: key, New: Row{"id": id}})
		}
		return out
	}
	first := chunkID{run: "r", chunk: 1}
	done := w.open(first, orders, key)
	mark(1, false)
	w.fill(first, rows(1, 2), 10)
	// Changed in the first chunk's window, row 4 belongs to the second
	// chunk, whose SELECT might not see the change yet.
	w.observe(&Transaction{EndLSN: 12, Changes: []Change{{Op: Update, Table: orders, Key: key, New: Row{"id": int64(4)}}}})
	mark(1, true)
	<-done
	w.observe(&Transaction{EndLSN: 15, Changes: []Change{{Op: Update, Table: orders, Key: key, New: Row{"id": int64(3)}}}})
	second := chunkID{run: "r", chunk: 2}
	done = w.open(second, orders, key)
	mark(2, false)
	w.fill(second, rows(3, 4, 5), 10)
	high := mark(2, true)
	<-done
	if len(high.Changes) != 1 || high.Changes[0].New["id"] != int64(5) {
		t.Errorf("second chunk delivered %v, want only row 5", high.Changes)
	}
}

// TestWindowFillsUnchangedToast: when a stream update that wins over the
// chunk's row did not resend a TOASTed column, the chunk delivers that
// column of its row, leaving the others to the engine, unless a recorded
// change sent the column, whose value the engine then holds.
func TestWindowFillsUnchangedToast(t *testing.T) {
	docs := Table{Schema: "public", Name: "docs"}
	key := []string{"id"}
	copied := Change{Op: Read, Table: docs, Key: key, New: Row{"id": int64(1), "v": int64(0), "body": "copied body", "tags": "copied tags"}}
	update := func(v int64, sent Row, unchanged ...string) Change {
		row := Row{"id": int64(1), "v": v}
		for col, val := range sent {
			row[col] = val
		}
		return Change{Op: Update, Table: docs, Key: key, New: row, Unchanged: unchanged}
	}
	tests := []struct {
		name           string
		before, inside []Change
		// want is the change delivered for the key at the high watermark;
		// nil when the key is left out.
		want *Change
	}{
		{name: "an update inside the window gets the body from the chunk",
			inside: []Change{update(1, nil, "body", "tags")},
			want: &Change{Op: Update, Table: docs, Key: key, New: Row{"id": int64(1), "body": "copied body", "tags": "copied tags"},
				Unchanged: []string{"v"}}},
		{name: "so does one before the low watermark",
			before: []Change{update(1, nil, "body", "tags")},
			want: &Change{Op: Update, Table: docs, Key: key, New: Row{"id": int64(1), "body": "copied body", "tags": "copied tags"},
				Unchanged: []string{"v"}}},
		{name: "and two of them",
			before: []Change{update(1, nil, "body", "tags")}, inside: []Change{update(2, nil, "body", "tags")},
			want: &Change{Op: Update, Table: docs, Key: key, New: Row{"id": int64(1), "body": "copied body", "tags": "copied tags"},
				Unchanged: []string{"v"}}},
		{name: "a column an earlier update sent is left to the engine",
			inside: []Change{update(1, Row{"body": "new body"}, "tags"), update(2, nil, "body", "tags")},
			want: &Change{Op: Update, Table: docs, Key: key, New: Row{"id": int64(1), "tags": "copied tags"},
				Unchanged: []string{"body", "v"}}},
		{name: "after an insert the engine holds every column",
			inside: []Change{{Op: Insert, Table: docs, Key: key, New: Row{"id": int64(1), "v": int64(0), "body": "b", "tags": "t"}}, update(1, nil, "body", "tags")}},
		{name: "a deleted row is left out",
			inside: []Change{update(1, nil, "body", "tags"), {Op: Delete, Table: docs, Key: key, Old: Row{"id": int64(1)}}}},
		{name: "an update sending everything wins whole",
			inside: []Change{update(1, Row{"body": "b", "tags": "t"})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow("slot")
			id := chunkID{run: "r", chunk: 1}
			mark := func(high bool) *Transaction {
				b, _ := json.Marshal(watermark{Slot: "slot", Run: "r", Chunk: 1, High: high})
				txn := &Transaction{EndLSN: 10, Messages: []Message{{Prefix: WatermarkPrefix, Content: b}}}
				w.observe(txn)
				return txn
			}
			w.open(id, docs, key)
			w.observe(&Transaction{Changes: tt.before})
			mark(false)
			w.observe(&Transaction{Changes: tt.inside})
			w.fill(id, []Change{copied}, 100)
			high := mark(true)
			if tt.want == nil {
				if len(high.Changes) != 0 {
					t.Fatalf("delivered %+v, want the key left out", high.Changes)
				}
				return
			}
			if len(high.Changes) != 1 {
				t.Fatalf("delivered %d changes, want 1", len(high.Changes))
			}
			got := high.Changes[0]
			if got.Op != tt.want.Op || !maps.Equal(got.New, tt.want.New) || !slices.Equal(got.Unchanged, tt.want.Unchanged) {
				t.Errorf("delivered %+v, want %+v", got, *tt.want)
			}
		})
	}
}
