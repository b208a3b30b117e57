package sink

import "sync"

// submission is one Submit call: its acknowledgement is due when every
// one of its documents is durable.
type submission struct {
	remaining int // documents not yet durable
	ack       func()
	charge    int64 // buffer bytes still held for the submission
}

// gate turns completions of single documents, which arrive in any order
// (several lanes, several bulk requests in flight), into one
// acknowledgement per submission, called from one goroutine once every
// document of the submission is durable. It does not order submissions
// among themselves: a submission whose documents are all written is
// acknowledged at once, without waiting behind an earlier one stuck in a
// retry. Putting acknowledgements in order is the position ledger's
// (transform/ledger), the one ordering mechanism on the way back to the
// sources (docs/architecture.md).
type gate struct {
	mu       sync.Mutex
	finished []*submission
	notify   chan struct{}
}

func newGate() *gate {
	return &gate{notify: make(chan struct{}, 1)}
}

// add registers a submission; one without documents is due at once.
func (g *gate) add(s *submission) {
	if s.remaining == 0 {
		g.finish(s)
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
		g.finish(s)
	}
	return release
}

// finish queues the acknowledgement of s, whose documents are all durable.
func (g *gate) finish(s *submission) {
	g.mu.Lock()
	g.finished = append(g.finished, s)
	g.mu.Unlock()
	select {
	case g.notify <- struct{}{}:
	default:
	}
}

// ready removes and returns the submissions whose documents are all
// durable, in the order they finished.
func (g *gate) ready() []*submission {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.finished
	g.finished = nil
	return out
}

// deliver calls acknowledgements from a single goroutine until stop is
// closed, then delivers what is ready one last time.
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
