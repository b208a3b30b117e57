package envelope

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var (
	orders     = capture.Table{Schema: "public", Name: "orders"}
	commitTime = time.Date(2026, 12, 6, 18, 30, 15, 123456000, time.UTC)
	writtenAt  = time.Date(2026, 12, 6, 18, 30, 16, 0, time.UTC)
)

// streamed returns a streamed transaction holding changes.
func streamed(xid uint32, changes ...capture.Change) *capture.Transaction {
	lsn := capture.LSN(0x16B374D800 + 0x100*uint64(xid))
	return &capture.Transaction{Source: "shop", XID: xid, CommitLSN: lsn, EndLSN: lsn + 0x30,
		CommitTime: commitTime, Changes: changes}
}

// snapshot returns a snapshot transaction holding changes; done marks the
// snapshot's last one.
func snapshot(done bool, changes ...capture.Change) *capture.Transaction {
	return &capture.Transaction{Source: "shop", CommitLSN: 0x16B3000000, EndLSN: 0x16B3000000,
		CommitTime: commitTime, Snapshot: true, SnapshotDone: done, Changes: changes}
}

// goldenCases are one change of each kind; the golden file of case c in
// format f is testdata/<f>/<c>.json.
var goldenCases = []struct {
	name string
	txn  *capture.Transaction
}{
	{"insert", streamed(772, capture.Change{Op: capture.Insert, Table: orders, Key: []string{"id"},
		New: capture.Row{"id": int64(1), "status": "new", "total": capture.Numeric("12.50"),
			"placed_at": time.Date(2026, 12, 6, 18, 30, 0, 0, time.UTC)}})},
	{"update", streamed(773, capture.Change{Op: capture.Update, Table: orders, Key: []string{"id"},
		New: capture.Row{"id": int64(1), "status": "paid", "total": capture.Numeric("12.50")}, Unchanged: []string{"notes"}})},
	{"update_full", streamed(774, capture.Change{Op: capture.Update, Table: orders, Key: []string{"id"},
		Old: capture.Row{"id": int64(1), "status": "paid", "total": capture.Numeric("12.50")},
		New: capture.Row{"id": int64(1), "status": "sent", "total": capture.Numeric("12.50")}})},
	{"update_key", streamed(775, capture.Change{Op: capture.Update, Table: orders, Key: []string{"id"},
		Old: capture.Row{"id": int64(1)}, New: capture.Row{"id": int64(2), "status": "sent"}})},
	{"delete", streamed(776, capture.Change{Op: capture.Delete, Table: orders, Key: []string{"id"},
		Old: capture.Row{"id": int64(2)}})},
	{"truncate", streamed(777, capture.Change{Op: capture.Truncate, Table: orders, Key: []string{"id"}})},
	{"read", snapshot(false, capture.Change{Op: capture.Read, Table: orders, Key: []string{"id"},
		New: capture.Row{"id": int64(3), "status": "new", "raw": []byte("hi"), "meta": json.RawMessage(`{"a":1}`)}})},
	{"read_last", snapshot(true, capture.Change{Op: capture.Read, Table: orders, Key: []string{"id"},
		New: capture.Row{"id": int64(4), "status": "new", "due": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}})},
	{"insert_named", &capture.Transaction{Source: "shop", XID: 772, CommitLSN: 0x16B374D900, EndLSN: 0x16B374D930,
		CommitTime: commitTime, Changes: []capture.Change{
			{Op: capture.Insert, Table: capture.Table{Schema: "public", Name: "dishes"}, Key: []string{"id"}, New: capture.Row{"id": int64(8)}},
			{Op: capture.Insert, Table: orders, Key: []string{"id", "line"}, New: capture.Row{"id": int64(9), "line": "a|b"}},
		}}},
}

// TestGolden writes every case in every format and compares with the
// golden file; `go test ./capture/envelope/ -update` rewrites them.
func TestGolden(t *testing.T) {
	opts := Options{Types: EventTypes{"public.orders": {"created": "OrderPlaced"}}, Database: "shopdb",
		Version: "1.0.0", Now: func() time.Time { return writtenAt }}
	for _, f := range Formats() {
		enc, err := New(f, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range goldenCases {
			t.Run(string(f)+"/"+tc.name, func(t *testing.T) {
				var got bytes.Buffer
				for i := range tc.txn.Changes {
					line, err := enc.Append(nil, tc.txn, i)
					if err != nil {
						t.Fatalf("encode: %v", err)
					}
					if !json.Valid(line) {
						t.Fatalf("not JSON: %s", line)
					}
					if err := json.Indent(&got, line, "", "  "); err != nil {
						t.Fatal(err)
					}
					got.WriteByte('\n')
				}
				path := filepath.Join("testdata", string(f), tc.name+".json")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("read golden file (run with -update to write it): %v", err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("%s differs from %s:\n%s", f, path, got.Bytes())
				}
			})
		}
	}
}

// TestProjectorFormatReadsBack reads a projector event's change part
// back as a capture.Change: the format carries every value losslessly.
func TestProjectorFormatReadsBack(t *testing.T) {
	enc, err := New(Projector, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range goldenCases {
		for i, want := range tc.txn.Changes {
			line, err := enc.Append(nil, tc.txn, i)
			if err != nil {
				t.Fatal(err)
			}
			var got capture.Change
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if a, b := string(capture.AppendRow(nil, got.New)), string(capture.AppendRow(nil, want.New)); a != b ||
				string(capture.AppendRow(nil, got.Old)) != string(capture.AppendRow(nil, want.Old)) ||
				got.Op != want.Op || got.Table != want.Table || !slices.Equal(got.Key, want.Key) {
				t.Errorf("%s: read back %+v, want %+v", tc.name, got, want)
			}
			for col, v := range want.New {
				if got, want := typeName(got.New[col]), typeName(v); got != want {
					t.Errorf("%s: column %s read back as %s, want %s", tc.name, col, got, want)
				}
			}
		}
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func TestChanged(t *testing.T) {
	tests := []struct {
		name   string
		change capture.Change
		want   []string
	}{
		{"insert", capture.Change{Op: capture.Insert, New: capture.Row{"id": int64(1)}}, nil},
		{"delete", capture.Change{Op: capture.Delete, Old: capture.Row{"id": int64(1)}}, nil},
		{"old values unknown: every column sent", capture.Change{Op: capture.Update, Key: []string{"id"},
			New: capture.Row{"id": int64(1), "status": "paid"}}, []string{"id", "status"}},
		{"replica identity full", capture.Change{Op: capture.Update, Key: []string{"id"},
			Old: capture.Row{"id": int64(1), "status": "paid", "f": 1.5, "tags": []any{"a"}},
			New: capture.Row{"id": int64(1), "status": "sent", "f": 1.5, "tags": []any{"a"}}}, []string{"status"}},
		{"full, nothing changed", capture.Change{Op: capture.Update, Key: []string{"id"},
			Old: capture.Row{"id": int64(1), "n": nil}, New: capture.Row{"id": int64(1), "n": nil}}, []string{}},
		{"full, NaN stays NaN", capture.Change{Op: capture.Update, Key: []string{"id"},
			Old: capture.Row{"id": int64(1), "f": math.NaN()}, New: capture.Row{"id": int64(1), "f": math.NaN()}}, []string{}},
		{"key changed, others unknown", capture.Change{Op: capture.Update, Key: []string{"id"},
			Old: capture.Row{"id": int64(1)}, New: capture.Row{"id": int64(2), "status": "x"}}, []string{"id", "status"}},
		{"TOASTed column left alone", capture.Change{Op: capture.Update, Key: []string{"id"},
			Old: capture.Row{"id": int64(1), "status": "a"}, New: capture.Row{"id": int64(1), "status": "b"},
			Unchanged: []string{"notes"}}, []string{"status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Changed(&tt.change)
			if !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("Changed = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEventTypeAndID(t *testing.T) {
	types := EventTypes{"public.orders": {"created": "OrderPlaced", "deleted": "OrderCancelled"}}
	for _, tt := range []struct {
		table capture.Table
		op    capture.Op
		want  string
	}{
		{orders, capture.Insert, "OrderPlaced"},
		{orders, capture.Read, "OrderPlaced"},
		{orders, capture.Update, "orders.updated"},
		{orders, capture.Delete, "OrderCancelled"},
		{orders, capture.Truncate, "orders.truncated"},
		{capture.Table{Schema: "sales", Name: "orders"}, capture.Insert, "orders.created"},
	} {
		if got := EventType(tt.table, tt.op, types); got != tt.want {
			t.Errorf("EventType(%s, %s) = %q, want %q", tt.table, tt.op, got, tt.want)
		}
	}
	// Ids are unique among a source's changes: by position while
	// streaming, by table and key in a snapshot, whose rows share one LSN.
	seen := map[string]string{}
	for _, tc := range goldenCases {
		for i := range tc.txn.Changes {
			id := ID(tc.txn, i)
			if other, ok := seen[id]; ok {
				t.Errorf("%s and %s share the id %s", tc.name, other, id)
			}
			seen[id] = tc.name
		}
	}
	if _, err := ParseFormat("avro"); err == nil {
		t.Error("an unknown format was accepted")
	}
	if _, err := New("avro", Options{}); err == nil {
		t.Error("New accepted an unknown format")
	}
}
