package sink

// Flush makes every lane that holds documents send them at once, rather
// than when its batch is full or the flush interval has passed; lanes
// holding nothing are left as they are. The engine calls it after a
// group that already waited for company (a light stream's linger): its
// documents are the batch, and waiting the flush interval on top would
// only add lag. Safe to call from any goroutine.
func (w *Writer) Flush() {
	// Every lane is hurried before any is woken, so that the first to
	// send can take the others' documents along (see lane.borrow).
	hurried := make([]*lane, 0, len(w.lanes))
	for _, l := range w.lanes {
		if l.queued() == 0 {
			continue
		}
		l.hurry.Store(true)
		hurried = append(hurried, l)
	}
	for _, l := range hurried {
		l.signal()
	}
}
