package sink

import (
	"fmt"
	"net/http"
	"time"
)

// settle applies each item's answer: durable items complete or move to
// their next stage, refused ones become dead letters, and those and the
// retryable ones are returned, in order, to be sent again. cause is set
// when any item must wait for a retry.
func (l *lane) settle(sent []item, results []itemResult) (next []item, cause, err error) {
	for i, it := range sent {
		r := &results[i]
		switch classify(r, it.doc.isDelete()) {
		case written:
			// A document without an id has no older revision to delete.
			if it.stage == stageDeadLetter && !it.refused.isDelete() && it.refused.ID != "" {
				next = append(next, retraction(it))
				continue
			}
			l.complete(it, writtenAction(&it))
		case conflict:
			// For a retraction: the index already holds a newer revision,
			// which is current.
			l.complete(it, conflictAction(&it))
		case retryable:
			next = append(next, it)
			if cause == nil {
				cause = fmt.Errorf("%s/%s answered %d: %s", it.doc.Index, it.doc.ID, r.Status, itemErrorOf(r))
			}
		case rejected:
			dl, ok, err := l.refuse(it, itemErrorOf(r))
			if err != nil {
				return nil, nil, err
			}
			if ok {
				next = append(next, dl)
			}
		}
	}
	return next, cause, nil
}

func writtenAction(it *item) string {
	switch {
	case it.stage != stageRevision:
		return actionDeadLetter
	case it.doc.isDelete():
		return actionDelete
	}
	return actionIndex
}

func conflictAction(it *item) string {
	if it.stage == stageRetract {
		return actionDeadLetter
	}
	return actionConflict
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
	if it.stage != stageRevision {
		dead.Inc()
	}
	l.w.release(l.w.gate.done(it.sub, 1, it.cost))
}

// refuse handles an item the engine will never accept. A refused revision
// is replaced by its dead letter (ok). A refused retraction is complete:
// the engine refuses deletes only for ids it cannot hold, under which no
// older revision can exist either. A refused dead letter is fatal: there
// is nowhere left to keep the document, and dropping it silently would
// leave the view wrong without a trace.
func (l *lane) refuse(it item, cause *itemError) (next item, ok bool, err error) {
	switch it.stage {
	case stageDeadLetter:
		return item{}, false, fmt.Errorf("write dead letter to %s: refused with %s; the index must accept "+
			"dead letters (check that it can be created and written)", it.doc.Index, cause)
	case stageRetract:
		l.w.log.Warn("search engine refused to delete the older revision of a dead-lettered document; "+
			"nothing is left to delete under an id it refuses",
			"view", it.view, "index", it.doc.Index, "id", it.doc.ID, "error", cause.String())
		l.complete(it, actionDeadLetter)
		return item{}, false, nil
	}
	l.w.log.Warn("search engine refused a document; keeping it in the dead-letter index and deleting "+
		"its older revision from the view",
		"view", it.view, "index", it.doc.Index, "id", it.doc.ID, "version", it.doc.Version,
		"position", it.doc.Position, "error", cause.String())
	dl, err := deadLetter(&it.doc, cause, time.Now())
	if err != nil {
		return item{}, false, err
	}
	refused := it.doc
	return item{doc: dl, view: it.view, sub: it.sub, cost: it.cost, stage: stageDeadLetter, refused: &refused}, true, nil
}

// retraction is the step after a refused revision's dead letter is
// written: a delete of the document at the refused revision's version.
// With external versions it removes any older revision the index holds,
// and leaves a newer one alone (a conflict), so a reader never takes the
// revision before the refused one for current.
func retraction(it item) item {
	r := it.refused
	return item{
		doc:  Document{Index: r.Index, ID: r.ID, Version: r.Version, View: r.View, Position: r.Position},
		view: it.view, sub: it.sub, cost: it.cost, stage: stageRetract, refused: r,
	}
}
