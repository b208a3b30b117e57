package sink

import "sync"

// submission is one Submit call: its acknowledgement is due when every
// one of its documents is durable and every earlier submission has been
// acknowledged.
type submission struct {
	remaining int // documents not yet durable
	ack       func()
	charge    int64 // buffer bytes still held for the submission
}

// gate turns completions that arrive in any order (several lanes, several
// bulk requests in flight) into acknowledgements in submission order. The
// caller confirms source positions from these acknowledgements, so one
// delivered early would let the source forget a change that is not yet
// written.
type gate struct {
	mu     sync.Mutex
	queue  []*submission
	notify chan struct{}
}

func newGate() *gate {
	return &gate{notify: make(chan struct{}, 1)}
}

// add appends a submission; the caller serialises add with the order in
// which documents enter the lanes.
func (g *gate) add(s *submission) {
	g.mu.Lock()
	g.queue = append(g.queue, s)
	g.mu.Unlock()
	if s.remaining == 0 {
		g.wake()
	}
}

// done records that n documents of s are durable, whose buffer cost is
// cost, and returns how many buffer bytes may be released.
func (g *gate) done(s *submission, n int, cost int64) (release int64) {
	g.mu.Lock()
	s.remaining -= n
	release = min(cost, s.charge)
	s.charge -= release
	finished := s.remaining == 0
	g.mu.Unlock()
	if finished {
		g.wake()
	}
	return release
}

func (g *gate) wake() {
	select {
	case g.notify <- struct{}{}:
	default:
	}
}

// ready removes and returns the finished submissions at the head.
func (g *gate) ready() []*submission {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for n < len(g.queue) && g.queue[n].remaining == 0 {
		n++
	}
	out := make([]*submission, n)
	copy(out, g.queue[:n])
	clear(g.queue[:n])
	g.queue = g.queue[n:]
	return out
}

// deliver calls acknowledgements in order from a single goroutine until
// stop is closed, then delivers what is ready one last time.
func (g *gate) deliver(stop <-chan struct{}) {
	for {
		select {
		case <-g.notify:
			g.ackReady()
		case <-stop:
			g.ackReady()
			return
		}
	}
}

func (g *gate) ackReady() {
	for _, s := range g.ready() {
		s.ack()
	}
}
