package ledger

import (
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
)

// TestSettling: a reader waiting for a durable position hears of the
// settle that reaches it, and a settle with nobody waiting leaves no
// channel behind.
func TestSettling(t *testing.T) {
	l := New[struct{}](nil)
	t1 := l.Issue(map[string]capture.LSN{"a": 10}, struct{}{})
	l.Acknowledge(t1, time.Now())
	if !l.Settle(t1) {
		t.Fatal("settle 1 refused")
	}
	if l.settling != nil {
		t.Fatal("a settle with nobody waiting made a channel")
	}
	ch := l.Settling()
	if ch != l.Settling() {
		t.Error("two waiters got different channels")
	}
	t2 := l.Issue(map[string]capture.LSN{"a": 20}, struct{}{})
	select {
	case <-ch:
		t.Fatal("closed before a settle")
	default:
	}
	l.Acknowledge(t2, time.Now())
	if !l.Settle(t2) {
		t.Fatal("settle 2 refused")
	}
	select {
	case <-ch:
	default:
		t.Fatal("not closed by the settle")
	}
	if got := l.Position("a").Durable; got != 20 {
		t.Errorf("durable after the signal = %d, want 20", got)
	}
}
