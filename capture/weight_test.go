package capture

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestWeigh(t *testing.T) {
	long := strings.Repeat("x", 10000)
	cases := []struct {
		name     string
		txn      Transaction
		min, max int64
	}{
		{"an empty transaction still weighs its overhead", Transaction{}, txnOverhead, txnOverhead},
		{"a small row", Transaction{Changes: []Change{{Op: Insert, New: Row{"id": int64(1), "name": "ada"}}}}, 300, 500},
		{"a long text counts its bytes", Transaction{Changes: []Change{{Op: Insert, New: Row{"body": long}}}}, 10000, 10500},
		{"old and new rows both count", Transaction{Changes: []Change{{Op: Update, Old: Row{"body": long}, New: Row{"body": long}}}}, 20000, 21000},
		{"json, bytes and arrays count their contents", Transaction{Changes: []Change{{Op: Insert, New: Row{
			"doc": json.RawMessage(long), "bin": []byte(long), "tags": []any{long, nil}, "at": time.Time{}, "n": Numeric("1.5"),
		}}}}, 30000, 31000},
		{"messages count their content", Transaction{Messages: []Message{{Prefix: "p", Content: []byte(long)}}}, 10000, 10500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			txn := tc.txn
			weigh(&txn)
			if txn.Bytes < tc.min || txn.Bytes > tc.max {
				t.Fatalf("weighed %d bytes, want %d..%d", txn.Bytes, tc.min, tc.max)
			}
		})
	}
}
