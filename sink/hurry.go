package sink

// Hurry makes every lane send what it holds at once, rather than when
// its batch is full or the flush interval has passed, and, when a lane
// holds nothing yet, the next documents it is given: a reader waits for
// documents the engine has applied (GET /v1/wait). A lane stops hurrying
// once it has sent its whole queue. Nothing changes for writers nobody
// waits on; safe to call from any goroutine.
func (w *Writer) Hurry() {
	for _, l := range w.lanes {
		l.hurry.Store(true)
	}
	for _, l := range w.lanes {
		l.signal()
	}
}
