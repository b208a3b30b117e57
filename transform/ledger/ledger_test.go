package ledger

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
)

// op is one step against a ledger: issue a group with positions
// ("a@10 b@5", "" for a group with documents only), acknowledge a ticket,
// or reset a source. After every step the ledger is settled as far as it
// goes, as the engine does on each wake.
type op struct {
	issue  string
	ack    Ticket
	reset  string
	want   string // confirmations the step causes, "a@10 b@5"
	settle Ticket // Settled() after the step
}

func issue(positions string) op { return op{issue: positions + "!"} }

func TestLedger(t *testing.T) {
	cases := []struct {
		name    string
		streams []string // sources with a stream; others are never confirmed
		ops     []op
		want    map[string]Position
	}{
		{
			name:    "in order",
			streams: []string{"a"},
			ops: []op{
				issue("a@10"), {ack: 1, want: "a@10", settle: 1},
				issue("a@20"), {ack: 2, want: "a@20", settle: 2},
			},
			want: map[string]Position{"a": {Applied: 20, Durable: 20}},
		},
		{
			name:    "acknowledged out of order",
			streams: []string{"a"},
			ops: []op{
				issue("a@10"), issue("a@20"), issue("a@30"),
				{ack: 3},
				{ack: 2},
				{ack: 1, want: "a@10 a@20 a@30", settle: 3},
			},
			want: map[string]Position{"a": {Applied: 30, Durable: 30}},
		},
		{
			name:    "a group without documents waits for the group before it",
			streams: []string{"a"},
			ops: []op{
				issue(""),     // documents of a snapshot, no position
				issue("a@40"), // nothing to write: acknowledged at once
				{ack: 2},
				{ack: 1, want: "a@40", settle: 2},
			},
			want: map[string]Position{"a": {Applied: 40, Durable: 40}},
		},
		{
			name:    "positions of several sources in one group",
			streams: []string{"a", "b"},
			ops: []op{
				issue("a@10 b@7"), issue("b@9"),
				{ack: 2}, {ack: 1, want: "a@10 b@7 b@9", settle: 2},
			},
			want: map[string]Position{"a": {Applied: 10, Durable: 10}, "b": {Applied: 9, Durable: 9}},
		},
		{
			name:    "never backwards",
			streams: []string{"a"},
			ops: []op{
				issue("a@50"), {ack: 1, want: "a@50", settle: 1},
				issue("a@30"), {ack: 2, settle: 2}, // a redelivery applied again
				issue("a@50"), {ack: 3, settle: 3},
			},
			want: map[string]Position{"a": {Applied: 50, Durable: 50}},
		},
		{
			name:    "a reset forgets what is applied, not what is durable",
			streams: []string{"a"},
			ops: []op{
				issue("a@50"), {ack: 1, want: "a@50", settle: 1},
				{reset: "a"},
				issue(""), {ack: 2, settle: 2}, // the new snapshot's rows
				issue("a@40"), {ack: 3, settle: 3},
			},
			want: map[string]Position{"a": {Applied: 40, Durable: 50}},
		},
		{
			name:    "a rebuild's new snapshot confirms its consistent point",
			streams: []string{"a"},
			ops: []op{
				issue("a@50"), {reset: "a"}, issue(""), issue("a@80"),
				{ack: 3}, {ack: 2}, {ack: 1, want: "a@50 a@80", settle: 3},
			},
			want: map[string]Position{"a": {Applied: 80, Durable: 80}},
		},
		{
			name:    "a source that failed alone holds no one back",
			streams: []string{"a"}, // b failed to start: it has no stream
			ops: []op{
				issue("b@5"), issue("a@10"),
				{ack: 2}, {ack: 1, want: "a@10", settle: 2},
				issue("a@20 b@6"), {ack: 3, want: "a@20", settle: 3},
			},
			want: map[string]Position{"a": {Applied: 20, Durable: 20}, "b": {Applied: 6, Durable: 6}},
		},
		{
			name:    "acknowledging twice or an unknown ticket changes nothing",
			streams: []string{"a"},
			ops: []op{
				issue("a@10"), {ack: 7}, {ack: 1, want: "a@10", settle: 1}, {ack: 1, settle: 1},
			},
			want: map[string]Position{"a": {Applied: 10, Durable: 10}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			streams := Streams{}
			for _, name := range tc.streams {
				streams[name] = recorder{name: name, got: &got}
			}
			l := New[string](streams.Confirm)
			for i, o := range tc.ops {
				got = got[:0]
				switch {
				case o.issue != "":
					want := l.NextTicket()
					if tk := l.Issue(positions(t, strings.TrimSuffix(o.issue, "!")), fmt.Sprint("note ", i)); tk != want {
						t.Fatalf("step %d: issued ticket %d, NextTicket said %d", i, tk, want)
					}
					continue // settling before any acknowledgement does nothing
				case o.reset != "":
					l.Reset(o.reset)
					continue
				default:
					l.Acknowledge(o.ack, time.Now())
				}
				settleAll(t, l)
				if s := strings.Join(got, " "); s != o.want {
					t.Fatalf("step %d (ack %d): confirmed %q, want %q", i, o.ack, s, o.want)
				}
				if l.Settled() != o.settle {
					t.Fatalf("step %d (ack %d): settled %d, want %d", i, o.ack, l.Settled(), o.settle)
				}
			}
			for source, want := range tc.want {
				// Every ticket here ends settled: acknowledged is at or past durable.
				if p := l.Position(source); p.Applied != want.Applied || p.Durable != want.Durable || p.Acknowledged < p.Durable {
					t.Errorf("position of %s = %+v, want %+v", source, p, want)
				}
			}
		})
	}
}

// settleAll settles what is ready, checking that each entry carries its
// note and acknowledgement time.
func settleAll(t *testing.T, l *Ledger[string]) {
	t.Helper()
	for {
		e, ok := l.Next()
		if !ok {
			return
		}
		if e.Note == "" || e.Acknowledged.IsZero() {
			t.Fatalf("ticket %d: note %q, acknowledged %v", e.Ticket, e.Note, e.Acknowledged)
		}
		if !l.Settle(e.Ticket) {
			t.Fatalf("ticket %d from Next could not be settled", e.Ticket)
		}
	}
}

func TestSettleRefusesATicketOutOfTurn(t *testing.T) {
	var got []string
	l := New[string](Streams{"a": recorder{name: "a", got: &got}}.Confirm)
	l.Issue(positions(t, "a@10"), "first")
	l.Issue(positions(t, "a@20"), "second")
	l.Acknowledge(2, time.Now())
	if l.Settle(2) || l.Settle(1) {
		t.Fatal("settled a ticket out of order or not acknowledged")
	}
	if _, ok := l.Next(); ok {
		t.Fatal("Next offered a ticket behind one not acknowledged")
	}
	if len(got) != 0 || l.Settled() != 0 {
		t.Fatalf("confirmed %v, settled %d; want nothing", got, l.Settled())
	}
	select {
	case <-l.Wake():
	default:
		t.Fatal("an acknowledgement did not wake the settler")
	}
}

type recorder struct {
	name string
	got  *[]string
}

func (r recorder) Confirm(lsn capture.LSN) {
	*r.got = append(*r.got, fmt.Sprintf("%s@%d", r.name, lsn))
}

// positions parses "a@10 b@5".
func positions(t *testing.T, s string) map[string]capture.LSN {
	t.Helper()
	p := map[string]capture.LSN{}
	for _, f := range strings.Fields(s) {
		var lsn uint64
		source, n, ok := strings.Cut(f, "@")
		if _, err := fmt.Sscan(n, &lsn); !ok || err != nil {
			t.Fatalf("bad position %q", f)
		}
		p[source] = capture.LSN(lsn)
	}
	return p
}
