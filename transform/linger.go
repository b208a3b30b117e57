package transform

import (
	"time"

	"github.com/projector-dev/projector/capture"
)

// arrivals estimates how far apart the streamed transactions are
// committed, from their commit times: the gap the server saw, whatever
// the engine was doing while they queued. A group's linger is chosen from
// it (lingerFor).
type arrivals struct {
	last time.Time     // the latest commit time seen
	gap  time.Duration // moving average of the gaps between commits
	n    int           // gaps averaged, up to arrivalsWarm
}

// arrivalsWarm is how many gaps the average needs before it is trusted:
// two transactions close together after a quiet spell do not make a
// steady stream.
const arrivalsWarm = 3

// observe adds a streamed transaction's commit to the average. Each gap
// counts for at most ceiling, so that one quiet spell makes the stream
// look sparse for the next few transactions, not for hundreds.
func (a *arrivals) observe(txn *capture.Transaction, ceiling time.Duration) {
	if txn.Snapshot || txn.CommitTime.IsZero() {
		return
	}
	if !a.last.IsZero() {
		g := min(max(txn.CommitTime.Sub(a.last), 0), ceiling)
		if a.n == 0 {
			a.gap = g
		} else {
			a.gap += (g - a.gap) / 4
		}
		a.n = min(a.n+1, arrivalsWarm)
	}
	if txn.CommitTime.After(a.last) {
		a.last = txn.CommitTime
	}
}

// lingerPlan is how a group waits for company.
type lingerPlan struct {
	wait time.Duration // how long after its first transaction; 0 for not at all
	// flush sends the group's documents at once, without waiting in the
	// sink for more, once the group did wait: it is the batch, and the
	// sink's flush interval on top would only add lag.
	flush bool
}

// lingerGaps is how many of the stream's recent gaps a group waits, within
// half a GroupLinger and a whole one: a few transactions more per group,
// and at most one group per half GroupLinger for the sink to send.
const lingerGaps = 4

// lingerFor plans the wait of a group whose first transaction is first,
// from the stream's recent arrivals. Snapshot rows, a stream not yet
// measured, and one slower than a transaction per half GroupLinger (a
// group would gain less than one more transaction) wait for nothing.
// A steady stream waits lingerGaps of its gaps, at least half a
// GroupLinger and at most a whole one, and its group is then sent at
// once: a change waits at most GroupLinger for company, rather than that
// and the sink's flush interval, and the sink sends about as many
// requests as its own batching would.
func (e *Engine) lingerFor(first *capture.Transaction) lingerPlan {
	l := e.opts.GroupLinger
	if l <= 0 || first.Snapshot || e.arrivals.n < arrivalsWarm || 2*e.arrivals.gap > l {
		return lingerPlan{}
	}
	return lingerPlan{wait: min(max(lingerGaps*e.arrivals.gap, l/2), l), flush: true}
}

// Flusher is implemented by a Writer that can send what it holds at once
// (sink.Writer.Flush): the engine asks it to after a group that lingered
// for a light stream.
type Flusher interface {
	Flush()
}

// flush asks the writer to send the group just submitted at once, when it
// can.
func (e *Engine) flush() {
	if f, ok := e.out.(Flusher); ok {
		f.Flush()
	}
}
