package transform

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/state"
)

// TestFailedGroupDropsRowCache checks that rows a group wrote before it
// failed are not served from the cache afterwards: the store never
// committed them.
func TestFailedGroupDropsRowCache(t *testing.T) {
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e, err := NewEngine(store, []*View{orderHistory()}, newMemoryIndex(), func(string, capture.LSN) {}, Options{},
		NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	txn := &capture.Transaction{Source: "consumers", XID: 1, CommitLSN: 10, EndLSN: 10, CommitTime: time.Now(),
		Changes: []capture.Change{
			ins("consumers", capture.Row{"id": int64(7), "name": "Ada"}),
			ins("consumers", capture.Row{"name": "no key"}),
		}}
	if err := e.applyGroup(context.Background(), []*capture.Transaction{txn}); err == nil {
		t.Fatal("a group with a row without its key was applied")
	}
	// A cached read answers from the row cache first: it finds the row
	// only if the cache kept it.
	rd := store.Snapshot(state.ReadCached)
	defer rd.Close()
	if row, err := rd.Row(state.TableID{Source: "consumers", Table: tbl("consumers")}, "[7]"); err != nil || row != nil {
		t.Fatalf("the row cache kept %v (%v) from a group that failed", row, err)
	}
}

// FuzzKeyFormsAgree: the keys the state stores in integer form are those
// docID reads as one integer, so that both order and name them alike.
func FuzzKeyFormsAgree(f *testing.F) {
	for _, v := range []string{"[1]", "[-1]", "[9223372036854775808]", `["a",1]`, "", "[-0]", "[07]"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.IndexByte(v, 0) >= 0 {
			return // JSON never holds a 0x00
		}
		digits, single := singleInteger(v)
		_, err := strconv.ParseInt(digits, 10, 64)
		if _, stored := state.KeyInteger(v); (single && err == nil) != stored {
			t.Fatalf("%q: the state stores it as an integer: %v; singleInteger says %v, ParseInt %v", v, stored, single, err)
		}
	})
}
