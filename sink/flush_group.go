package sink

// Flush makes every lane that holds documents send them at once, rather
// than when its batch is full or the flush interval has passed; lanes
// holding nothing are left as they are. The engine calls it after a
// group that already waited for company (a light stream's linger): its
// documents are the batch, and waiting the flush interval on top would
// only add lag. Safe to call from any goroutine.
func (w *Writer) Flush() {
	for _, l := range w.lanes {
		if l.queued() == 0 {
			continue
		}
		l.hurry.Store(true)
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}
