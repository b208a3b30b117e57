package sink

import (
	"fmt"
	"net/http"
	"time"
)

// settle applies each item's answer: durable items complete, refused ones
// become dead letters, and those and the retryable ones are returned, in
// order, to be sent again. cause is set when any item must wait for a
// retry.
func (l *lane) settle(sent []item, results []itemResult) (next []item, cause, err error) {
	for i, it := range sent {
		r := &results[i]
		switch classify(r, it.doc.isDelete()) {
		case written:
			l.complete(it, writtenAction(&it))
		case conflict:
			l.complete(it, actionConflict)
		case retryable:
			next = append(next, it)
			if cause == nil {
				cause = fmt.Errorf("%s/%s answered %d: %s", it.doc.Index, it.doc.ID, r.Status, itemErrorOf(r))
			}
		case rejected:
			dl, err := l.refuse(it, itemErrorOf(r))
			if err != nil {
				return nil, nil, err
			}
			next = append(next, dl)
		}
	}
	return next, cause, nil
}

func writtenAction(it *item) string {
	switch {
	case it.deadLetter:
		return actionDeadLetter
	case it.doc.isDelete():
		return actionDelete
	}
	return actionIndex
}

func itemErrorOf(r *itemResult) *itemError {
	if r.Error != nil {
		return r.Error
	}
	return &itemError{Type: fmt.Sprintf("status_%d", r.Status), Reason: http.StatusText(r.Status)}
}

// complete counts a durable item and frees its share of the buffer; the
// gate acknowledges its submission once all of it is durable.
func (l *lane) complete(it item, action string) {
	m := l.w.metrics
	m.written.WithLabelValues(it.view, action).Inc()
	// Touch the view's dead-letter series even when it stays at zero, so
	// that alerts on it see the series from the first write.
	dead := m.deadLetters.WithLabelValues(it.view)
	if it.deadLetter {
		dead.Inc()
	}
	l.w.release(l.w.gate.done(it.sub, 1, it.cost))
}

// refuse replaces a refused revision by its dead letter. A refused dead
// letter is fatal: there is nowhere left to keep the document, and
// dropping it silently would leave the view wrong without a trace.
func (l *lane) refuse(it item, cause *itemError) (item, error) {
	if it.deadLetter {
		return item{}, fmt.Errorf("write dead letter to %s: refused with %s; the index must accept "+
			"dead letters (check that it can be created and written)", it.doc.Index, cause)
	}
	l.w.log.Warn("search engine refused a document; keeping it in the dead-letter index",
		"view", it.view, "index", it.doc.Index, "id", it.doc.ID, "version", it.doc.Version,
		"position", it.doc.Position, "error", cause.String())
	dl, err := deadLetter(&it.doc, cause, time.Now())
	if err != nil {
		return item{}, err
	}
	return item{doc: dl, view: it.view, sub: it.sub, cost: it.cost, deadLetter: true}, nil
}
