package capture

import (
	"log/slog"
	"time"
)

// chunkTimes adds up where a table's chunked copy spends its time, so that
// its progress logs say what limits the copy's rate: the watermarks'
// writes, the wait for transactions to become visible, the chunks'
// SELECTs, the stream reaching each high watermark, and the wait for
// downstream to confirm the chunks in flight.
type chunkTimes struct {
	watermarks, visibility, read, stream, confirm time.Duration
}

// add adds o to t.
func (t *chunkTimes) add(o chunkTimes) {
	t.watermarks += o.watermarks
	t.visibility += o.visibility
	t.read += o.read
	t.stream += o.stream
	t.confirm += o.confirm
}

// attrs are t's durations as log attributes, in seconds.
func (t chunkTimes) attrs() []any {
	s := func(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }
	return []any{slog.Group("seconds", "watermarks", s(t.watermarks), "visibility_wait", s(t.visibility),
		"select", s(t.read), "stream_wait", s(t.stream), "confirm_wait", s(t.confirm))}
}

// lap returns the time since *at and moves *at to now.
func lap(at *time.Time) time.Duration {
	now := time.Now()
	d := now.Sub(*at)
	*at = now
	return d
}
