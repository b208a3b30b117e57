package verify

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// onRecheck is a log handler that runs fn when the checker announces a
// re-check, i.e. after it has seen a mismatch and before it looks again.
type onRecheck struct {
	fn    func()
	calls atomic.Int32
}

func (h *onRecheck) Enabled(context.Context, slog.Level) bool { return true }
func (h *onRecheck) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *onRecheck) WithGroup(string) slog.Handler            { return h }
func (h *onRecheck) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "re-checking mismatches" && h.calls.Add(1) == 1 && h.fn != nil {
		h.fn()
	}
	return nil
}

func TestMismatchFixedWhileSettlingIsNotReported(t *testing.T) {
	f := newFixture(t)
	f.remove(t, "3")
	h := &onRecheck{fn: func() { f.write(t, map[string]string{"3": fixtureDocs["3"]}) }}
	rep := f.run(t, Options{Settle: 20 * time.Second}, slog.New(h))
	if h.calls.Load() == 0 {
		t.Fatal("the missing document was never re-checked")
	}
	if !rep.Clean() {
		t.Fatalf("a document restored while settling is reported: %+v", rep.Views[0])
	}
}

func TestPersistentMismatchIsReportedAfterSettling(t *testing.T) {
	f := newFixture(t)
	f.write(t, map[string]string{"2": strings.Replace(fixtureDocs["2"], `"7.00"`, `"7.01"`, 1)})
	h := &onRecheck{}
	rep := f.run(t, Options{Settle: time.Second}, slog.New(h))
	if h.calls.Load() == 0 {
		t.Fatal("the stale document was never re-checked")
	}
	got := rep.Views[0]
	if got.Stale != 1 || len(got.Diffs) != 1 || len(got.Diffs[0].Fields) != 1 {
		t.Fatalf("got %+v, want one stale document with one field diff", got)
	}
	if fd := got.Diffs[0].Fields[0]; fd.Path != "total" || fd.Want != "7" || fd.Got != "7.01" {
		t.Errorf("field diff %+v, want total: 7 vs 7.01", fd)
	}
}
