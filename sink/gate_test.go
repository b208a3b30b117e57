package sink

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestGateAcksEverySubmissionOnce completes the documents of many
// submissions from several goroutines in random order: each submission is
// acknowledged exactly once, after its last document, and releases
// exactly its charge.
func TestGateAcksEverySubmissionOnce(t *testing.T) {
	g := newGate()
	const n = 200
	var mu sync.Mutex
	var order []int
	subs := make([]*submission, n)
	for i := range subs {
		// The charge is at most the documents' cost (7 each), less when the
		// submission was larger than the whole buffer.
		docs := 1 + i%3
		subs[i] = &submission{remaining: docs, charge: min(int64(7*docs), 10)}
		subs[i].ack = func() {
			mu.Lock()
			if subs[i].remaining != 0 {
				t.Errorf("submission %d acknowledged with %d documents not durable", i, subs[i].remaining)
			}
			order = append(order, i)
			mu.Unlock()
		}
		g.add(subs[i])
	}
	stop := make(chan struct{})
	delivered := make(chan struct{})
	go func() {
		g.deliver(stop)
		close(delivered)
	}()

	// Complete every document from several goroutines in random order.
	var done []*submission
	for _, s := range subs {
		for range s.remaining {
			done = append(done, s)
		}
	}
	rand.Shuffle(len(done), func(i, j int) { done[i], done[j] = done[j], done[i] })
	var wg sync.WaitGroup
	var released sync.Map
	for part := range 4 {
		wg.Go(func() {
			for i := part; i < len(done); i += 4 {
				if r := g.done(done[i], 1, 7); r > 0 {
					v, _ := released.LoadOrStore(done[i], new(int64))
					mu.Lock()
					*v.(*int64) += r
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-delivered

	slices.Sort(order)
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(order, want) {
		t.Errorf("acks %v, want 0..%d once each", order, n-1)
	}
	for i, s := range subs {
		v, _ := released.Load(s)
		if got, want := *v.(*int64), min(int64(7*(1+i%3)), 10); got != want || s.charge != 0 {
			t.Errorf("submission %d released %d buffer bytes (%d left), want its charge of %d", i, got, s.charge, want)
		}
	}
}

// TestGateDoesNotHoldAcksBehindEarlierSubmissions: a submission whose
// documents are durable is acknowledged at once, even while an earlier
// one waits (the position ledger, not the writer, orders them); the
// earlier one is acknowledged only when its own documents are durable.
func TestGateDoesNotHoldAcksBehindEarlierSubmissions(t *testing.T) {
	g := newGate()
	var acked []string
	first := &submission{remaining: 1, ack: func() { acked = append(acked, "first") }}
	second := &submission{remaining: 1, ack: func() { acked = append(acked, "second") }}
	empty := &submission{ack: func() { acked = append(acked, "empty") }}
	g.add(first)
	g.add(second)
	g.add(empty)
	g.done(second, 1, 0)
	g.ackReady()
	if !slices.Equal(acked, []string{"empty", "second"}) {
		t.Fatalf("acked %v while the first submission was pending, want [empty second]", acked)
	}
	g.done(first, 1, 0)
	g.ackReady()
	if !slices.Equal(acked, []string{"empty", "second", "first"}) {
		t.Fatalf("acked %v, want [empty second first]", acked)
	}
}
