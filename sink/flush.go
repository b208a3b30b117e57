package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/projector-dev/projector/internal/ctxtime"
)

// run writes batches until ctx ends, then drains; a fatal error stops it.
func (l *lane) run(ctx context.Context) error {
	for {
		batch, ok := l.next(ctx)
		if !ok {
			// Nothing queued, unless another lane holds this one: what
			// arrived meanwhile is still to be written.
			return l.drain(ctx, nil, nil)
		}
		if ctx.Err() != nil {
			return l.drain(ctx, batch, nil)
		}
		batch, held := l.borrow(batch)
		pending, err := l.write(ctx, batch)
		if ctx.Err() != nil {
			return l.drain(ctx, pending, held)
		}
		l.written()
		release(held)
		if err != nil {
			return err
		}
	}
}

// drain keeps writing, for at most DrainTimeout, what the lane still
// holds after ctx ended: the rest of the batch in flight, then the queue.
// The lanes held for that batch (see borrow) are released once it is
// done; while another lane holds this one, drain waits for it. With
// NoDrain it only says what stays unwritten.
func (l *lane) drain(parent context.Context, pending []item, held []*lane) error {
	l.mu.Lock()
	l.draining = true
	l.mu.Unlock()
	defer func() { release(held) }()
	if l.w.opts.NoDrain {
		if n := len(pending) + l.queued(); n > 0 {
			l.w.log.Warn("stopped before these documents were written; they stay unacknowledged", "documents", n)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), l.w.opts.DrainTimeout)
	defer cancel()
	for {
		if len(pending) == 0 {
			release(held)
			held = nil
			if pending, _ = l.take(true); len(pending) == 0 {
				if l.idle() {
					return nil
				}
				select { // held by another lane until its request is answered
				case <-l.wake:
				case <-ctx.Done():
					l.w.log.Warn("stopped before these documents were written; they stay unacknowledged",
						"documents", l.queued())
					return nil
				}
				continue
			}
		}
		var err error
		if pending, err = l.write(ctx, pending); err != nil {
			if ctx.Err() != nil {
				l.w.log.Warn("stopped before these documents were written; they stay unacknowledged",
					"documents", len(pending)+l.queued())
				return nil
			}
			return err
		}
	}
}

// idle reports whether the lane holds nothing and no other lane holds it.
func (l *lane) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue) == 0 && !l.held
}

func (l *lane) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// write sends items until all are durable. It returns the items still
// pending when ctx ends, or a fatal error.
func (l *lane) write(ctx context.Context, pending []item) ([]item, error) {
	bo := backoff.ExponentialBackOff{
		InitialInterval:     l.w.opts.RetryInitial,
		RandomizationFactor: backoff.DefaultRandomizationFactor,
		Multiplier:          2,
		MaxInterval:         l.w.opts.RetryMax,
	}
	for attempt := 1; ; attempt++ {
		next, cause, err := l.round(ctx, pending)
		if err != nil {
			return pending, err
		}
		if pending = next; len(pending) == 0 {
			return nil, nil
		}
		if cause == nil {
			continue // only dead letters to write: no reason to wait
		}
		if ctx.Err() != nil {
			return pending, ctx.Err()
		}
		l.w.metrics.retries.Inc()
		wait := bo.NextBackOff()
		// An outage retries for as long as it lasts: say so at the start
		// and now and then, not on every attempt.
		level := slog.LevelDebug
		if attempt == 1 || attempt%10 == 0 {
			level = slog.LevelWarn
		}
		l.w.log.Log(ctx, level, "bulk write will be retried", "documents", len(pending), "attempt", attempt,
			"in", wait.Round(time.Millisecond), "reason", cause.Error())
		if err := ctxtime.Sleep(ctx, wait); err != nil {
			return pending, err
		}
	}
}

// round sends items once. It returns the items to send again, in order,
// and why, when a transient failure is among the reasons (a refused
// revision turned into a dead letter is sent again without waiting).
func (l *lane) round(ctx context.Context, items []item) (next []item, cause, err error) {
	sent, err := l.encode(items)
	if err != nil {
		return nil, nil, err
	}
	if len(sent) == 0 {
		return nil, nil, nil
	}
	tickets := l.w.takeTickets(sent)
	results, err := l.w.sendBulk(ctx, l.enc.bytes(), len(sent), len(tickets) > 0)
	answerTickets(tickets, sent, results)
	var refused *refusedError
	switch {
	case isTransient(err):
		return sent, err, nil
	case errors.As(err, &refused):
		return l.split(ctx, sent, refused)
	case err != nil:
		return nil, nil, err
	}
	return l.settle(sent, results)
}

// split sends the two halves of a batch the engine refused as a whole, so
// that every document it was not about goes through; a single document
// refused on its own is settled as a refused document. It takes about two
// requests per halving for each bad document.
func (l *lane) split(ctx context.Context, items []item, refused *refusedError) (next []item, cause, err error) {
	if len(items) == 1 {
		dl, ok, err := l.refuse(items[0], refused.cause)
		if err != nil || !ok {
			return nil, nil, err
		}
		return []item{dl}, nil, nil
	}
	l.w.log.Debug("search engine refused a bulk request as a whole; splitting it to find the documents it refuses",
		"documents", len(items), "error", refused.Error())
	half := len(items) / 2
	first, cause1, err := l.round(ctx, items[:half])
	if err != nil {
		return nil, nil, err
	}
	second, cause2, err := l.round(ctx, items[half:])
	if err != nil {
		return nil, nil, err
	}
	return append(first, second...), errors.Join(cause1, cause2), nil
}

// encode writes items into the lane's buffer and returns them as sent. A
// source that cannot be framed is replaced by its dead letter.
func (l *lane) encode(items []item) ([]item, error) {
	l.enc.reset()
	sent := make([]item, 0, len(items))
	for _, it := range items {
		if it.stage == stageRevision && it.doc.ID == "" {
			// Sent, it would make the engine refuse the whole request.
			var err error
			if it, _, err = l.refuse(it, &itemError{Type: "missing_id", Reason: "the document has no id " +
				"(a row whose key is empty cannot be indexed)"}); err != nil {
				return nil, err
			}
		}
		if err := l.enc.add(&it.doc, it.stage != stageDeadLetter); err != nil {
			var rerr error
			if it, _, rerr = l.refuse(it, &itemError{Type: "invalid_source", Reason: err.Error()}); rerr != nil {
				return nil, rerr
			}
			if err := l.enc.add(&it.doc, false); err != nil {
				return nil, fmt.Errorf("encode dead letter for %s/%s: %w", it.doc.Index, it.doc.ID, err)
			}
		}
		sent = append(sent, it)
	}
	return sent, nil
}
