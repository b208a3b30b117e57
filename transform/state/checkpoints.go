package state

import (
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/projector-dev/projector/capture"
)

// checkpoints keeps each source's committed checkpoint in memory. Every
// group of transactions reads its sources' checkpoints before advancing
// them: reading and unmarshalling the stored one each time was the
// biggest part of applying a one-row transaction. The stored checkpoint
// stays the truth; this is a copy of what was last committed or read.
// The engine's goroutine writes it, and the readiness and rebuild checks
// read it from theirs.
type checkpoints struct {
	mu    sync.Mutex
	known map[string]capture.Checkpoint
}

func newCheckpoints() *checkpoints {
	return &checkpoints{known: map[string]capture.Checkpoint{}}
}

// read returns source's checkpoint, reading it from rd the first time.
func (c *checkpoints) read(rd pebble.Reader, source string) (capture.Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.known[source]; ok {
		return cp, nil
	}
	cp, err := readCheckpoint(rd, source)
	if err != nil {
		return cp, err
	}
	c.known[source] = cp
	return cp, nil
}

// committed records the checkpoints a batch has just committed.
func (c *checkpoints) committed(cps map[string]capture.Checkpoint) {
	if len(cps) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for source, cp := range cps {
		c.known[source] = cp
	}
}
