package sink

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestGateAcksInSubmissionOrder(t *testing.T) {
	g := newGate()
	const n = 200
	var mu sync.Mutex
	var order []int
	subs := make([]*submission, n)
	for i := range subs {
		// The charge is at most the documents' cost (7 each), less when the
		// submission was larger than the whole buffer.
		docs := 1 + i%3
		subs[i] = &submission{remaining: docs, charge: min(int64(7*docs), 10), ack: func() {
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}}
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

	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(order, want) {
		t.Errorf("acks in order %v, want 0..%d once each", order, n-1)
	}
	for i, s := range subs {
		v, _ := released.Load(s)
		if got, want := *v.(*int64), min(int64(7*(1+i%3)), 10); got != want || s.charge != 0 {
			t.Errorf("submission %d released %d buffer bytes (%d left), want its charge of %d", i, got, s.charge, want)
		}
	}
}

func TestGateHoldsLaterAcksUntilEarlierOnesAreDue(t *testing.T) {
	g := newGate()
	var acked []string
	first := &submission{remaining: 1, ack: func() { acked = append(acked, "first") }}
	second := &submission{remaining: 1, ack: func() { acked = append(acked, "second") }}
	g.add(first)
	g.add(second)
	g.done(second, 1, 0)
	g.ackReady()
	if len(acked) != 0 {
		t.Fatalf("acked %v while the first submission was still pending", acked)
	}
	g.done(first, 1, 0)
	g.ackReady()
	if !slices.Equal(acked, []string{"first", "second"}) {
		t.Fatalf("acked %v, want [first second]", acked)
	}
}
