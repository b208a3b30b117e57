package transform

import "github.com/projector-dev/projector/capture"

// Durable is how far every change of source is durable in every view the
// engine maintains: settled, with all its documents acknowledged by the
// index. idle is a position the source's stream passed with nothing left
// owed downstream (capture.Stream.Passed), which counts once the
// documents left pending at start are durable too. Safe to call from any
// goroutine; it costs the stream nothing when nobody asks.
func (e *Engine) Durable(source string, idle capture.LSN) capture.LSN {
	durable := e.ledger.Position(source).Durable
	if r := e.resent.Load(); r != 0 && uint64(e.ledger.Settled())+1 >= r {
		durable = max(durable, idle)
	}
	return durable
}

// Settling returns a channel closed when the next group settles or is
// acknowledged with every earlier one, after which Durable or
// Acknowledged may answer more.
func (e *Engine) Settling() <-chan struct{} { return e.ledger.Settling() }

// Applied is the highest position of source applied to the state since it
// was last reset: its documents are on their way to the index, maybe not
// durable yet.
func (e *Engine) Applied(source string) capture.LSN { return e.ledger.Position(source).Applied }

// Settled counts the groups whose documents are durable: it only moves
// forward, and a refresh of the index that starts once it has reached n
// shows every document of the first n groups. Safe to call from any
// goroutine.
func (e *Engine) Settled() uint64 { return uint64(e.ledger.Settled()) }

// Acknowledged is how far every change of source has its documents
// acknowledged by the index, in every view the engine maintains: at or
// past Durable, which also waits for the state to be synced. A refresh
// that starts after it reached a position makes that position's changes
// searchable. Safe to call from any goroutine.
func (e *Engine) Acknowledged(source string) capture.LSN {
	return e.ledger.Position(source).Acknowledged
}

// AcknowledgedGroups counts the groups whose documents the index
// acknowledged, every earlier group's too: it only moves forward, and a
// refresh of the index that starts once it has reached n shows every
// document of the first n groups. Safe to call from any goroutine.
func (e *Engine) AcknowledgedGroups() uint64 { return uint64(e.ledger.Acknowledged()) }

// Hurry ends the lingering of the group being collected, or of the next
// one, so that a change a reader waits for (GET /v1/wait) is applied
// without waiting for company (Options.GroupLinger). Nothing changes for
// streams nobody waits on; safe to call from any goroutine.
func (e *Engine) Hurry() {
	select {
	case e.hurry <- struct{}{}:
	default:
	}
}
