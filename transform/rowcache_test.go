package transform

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
)

func cachedRow(value string) *storedRow {
	return &storedRow{cols: []storedColumn{{name: "v", value: value}}}
}

func TestRowCache(t *testing.T) {
	orders := tableID{"shop", tbl("orders")}
	ref := func(i int) []byte { return rowKey(orders, fmt.Sprintf("[%03d]", i)) }
	// Every test row is the same size, so a generation holds perRow rows.
	size := rowSize(ref(0), cachedRow("x"))
	const perRow = 64
	c := newRowCache(2 * perRow * size)

	value := func(i int) string {
		row, ok := c.get(ref(i))
		if !ok {
			return "absent"
		}
		return row.cols[0].value
	}
	for i := range perRow {
		c.put(ref(i), cachedRow("x"))
	}
	if got := value(0); got != "x" {
		t.Fatalf("row 0 in a full generation: %s, want x", got)
	}
	// The next row starts a new generation; the full one is still read.
	c.put(ref(perRow), cachedRow("x"))
	for _, i := range []int{1, 2, perRow} {
		if got := value(i); got != "x" {
			t.Fatalf("row %d after one turn: %s, want x", i, got)
		}
	}
	// Rows 1 and 2, read after the turn, were copied forward; the rest of
	// the first generation goes when the second one is full.
	for i := perRow + 1; i < 2*perRow-1; i++ {
		c.put(ref(i), cachedRow("x"))
	}
	for i, want := range map[int]string{0: "absent", 1: "x", 2: "x", 3: "absent", perRow - 1: "absent", perRow: "x"} {
		if got := value(i); got != want {
			t.Errorf("row %d after two turns: %s, want %s", i, got, want)
		}
	}

	c.put(ref(1), cachedRow("y"))
	if got := value(1); got != "y" {
		t.Fatalf("row 1 after a new version: %s, want y", got)
	}
	c.remove(ref(1))
	if got := value(1); got != "absent" {
		t.Fatalf("row 1 after removal: %s, want absent", got)
	}
	// A row too big to cache must not leave its older version behind.
	c.put(ref(2), cachedRow(strings.Repeat("z", c.half)))
	if got := value(2); got != "absent" {
		t.Fatalf("row 2 after a version too big to cache: %.10s, want absent", got)
	}

	var none *rowCache
	none.put(ref(1), cachedRow("x"))
	none.remove(ref(1))
	if _, ok := none.get(ref(1)); ok {
		t.Fatal("a nil cache returned a row")
	}
}

// TestFailedGroupDropsRowCache checks that rows a group wrote before it
// failed are not served from the cache afterwards: the store never
// committed them.
func TestFailedGroupDropsRowCache(t *testing.T) {
	store, err := OpenStore(t.TempDir(), nil)
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
	if row, ok := e.rows.get(rowKey(tableID{"consumers", tbl("consumers")}, "[7]")); ok {
		t.Fatalf("the row cache kept %v from a group that failed", row.cols)
	}
}
