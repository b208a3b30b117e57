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

// TestAcknowledgedPrefix: a source's acknowledged position moves once its
// group and every earlier one are acknowledged, before any settles, and
// wakes a waiting reader only then.
func TestAcknowledgedPrefix(t *testing.T) {
	l := New[struct{}](nil)
	t1 := l.Issue(map[string]capture.LSN{"a": 10}, struct{}{})
	t2 := l.Issue(map[string]capture.LSN{"a": 20}, struct{}{})
	t3 := l.Issue(map[string]capture.LSN{"b": 5}, struct{}{})
	ch := l.Settling()
	l.Acknowledge(t2, time.Now())
	select {
	case <-ch:
		t.Fatal("woken by an acknowledgement with an earlier group still owed")
	default:
	}
	if got := l.Position("a").Acknowledged; got != 0 || l.Acknowledged() != 0 {
		t.Fatalf("acknowledged %d (ticket %d) with ticket 1 owed, want 0", got, l.Acknowledged())
	}
	l.Acknowledge(t1, time.Now())
	select {
	case <-ch:
	default:
		t.Fatal("not woken when tickets 1 and 2 were acknowledged")
	}
	if p := l.Position("a"); p.Acknowledged != 20 || p.Durable != 0 || l.Acknowledged() != t2 {
		t.Errorf("position %+v, ticket %d; want acknowledged 20, durable 0 (nothing settled), ticket 2", p, l.Acknowledged())
	}
	l.Acknowledge(t3, time.Now())
	if got := l.Position("b").Acknowledged; got != 5 || l.Acknowledged() != t3 {
		t.Errorf("b acknowledged %d, ticket %d; want 5 and 3", got, l.Acknowledged())
	}
	for _, tk := range []Ticket{t1, t2, t3} {
		if !l.Settle(tk) {
			t.Fatalf("settle %d refused", tk)
		}
	}
	if p := l.Position("a"); p.Acknowledged != 20 || p.Durable != 20 {
		t.Errorf("after settling: %+v, want acknowledged and durable 20", p)
	}
	// Settling keeps the acknowledged position at or past the durable one.
	t4 := l.Issue(map[string]capture.LSN{"a": 30}, struct{}{})
	l.Acknowledge(t4, time.Now())
	l.Settle(t4)
	if p := l.Position("a"); p.Acknowledged != 30 || l.Acknowledged() != t4 {
		t.Errorf("after ticket 4: %+v, ticket %d; want acknowledged 30, ticket 4", p, l.Acknowledged())
	}
}
