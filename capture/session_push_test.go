package capture

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestPushMovesDeliveredOnTheLastPageOnly holds every way push hands a
// transaction downstream to one rule: only a transaction's last page (no
// More) moves the delivered position. A page with More that moved it
// would make the server's resend of the whole transaction after a
// reconnect look delivered already, and its remaining pages would be
// dropped.
func TestPushMovesDeliveredOnTheLastPageOnly(t *testing.T) {
	const before, end = LSN(100), LSN(200)
	tests := []struct {
		name   string
		direct bool // downstream takes it directly (Stream.RunWith's try)
		more   bool
		want   LSN
	}{
		{"direct, a page with more to come", true, true, before},
		{"direct, the last page", true, false, end},
		{"buffered, a page with more to come", false, true, before},
		{"buffered, the last page", false, false, end},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream(Source{Name: "src"}, Options{}, NewMetrics(prometheus.NewRegistry()), testLogger(t))
			if tt.direct {
				s.tryDeliver = func(*Transaction) bool { return true }
			}
			out := make(chan *Transaction, 1)
			ss := &session{stream: s, out: out, delivered: before}
			txn := &Transaction{Source: "src", CommitLSN: end, EndLSN: end, More: tt.more}
			if err := ss.push(context.Background(), nil, txn); err != nil {
				t.Fatalf("push: %v", err)
			}
			if ss.delivered != tt.want {
				t.Errorf("delivered = %v after pushing a page (More %v) ending at %v, want %v", ss.delivered, tt.more, end, tt.want)
			}
			if got := len(out); tt.direct == (got == 1) {
				t.Errorf("%d transactions buffered, want the %s path", got, map[bool]string{true: "direct", false: "buffered"}[tt.direct])
			}
		})
	}
}
