package sink

import (
	"testing"
	"time"
)

// TestLaneTakesWhatAnIdleLaneReceivesAtOnce checks when a partial batch
// is due: at once on a lane that took nothing for a flush interval, and
// otherwise once the oldest document or the last batch is an interval old.
func TestLaneTakesWhatAnIdleLaneReceivesAtOnce(t *testing.T) {
	const interval = time.Minute
	tests := []struct {
		name string
		// taken and since are how long ago the lane last took a batch and
		// its oldest queued document arrived.
		taken, since time.Duration
		wantBatch    bool
		wantWait     time.Duration // about, when no batch is due
	}{
		{name: "idle lane", taken: 2 * interval, since: 0, wantBatch: true},
		{name: "batch taken just now", taken: time.Second, since: 0, wantWait: interval - time.Second},
		{name: "oldest document waited the interval", taken: time.Second, since: interval, wantBatch: true},
		{name: "left over from a full batch", taken: time.Second, since: 30 * time.Second, wantWait: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWriter(fakeClient(t, &okEngine{}), WriterOptions{FlushInterval: interval, Concurrency: 1}, nil, nil)
			if err != nil {
				t.Fatalf("NewWriter: %v", err)
			}
			l := w.lanes[0]
			l.push([]item{{doc: doc("1", 1), cost: 10}})
			now := time.Now()
			l.taken, l.since = now.Add(-tt.taken), now.Add(-tt.since)
			batch, wait := l.take(false)
			if got := len(batch) == 1; got != tt.wantBatch {
				t.Fatalf("take returned %d documents, want a batch: %v", len(batch), tt.wantBatch)
			}
			if tt.wantBatch {
				if wait != 0 {
					t.Errorf("wait = %v with a batch, want 0", wait)
				}
				return
			}
			if wait <= tt.wantWait-time.Second || wait > tt.wantWait {
				t.Errorf("wait = %v, want about %v", wait, tt.wantWait)
			}
		})
	}
}

// TestNewLaneWaitsForCompany checks that the documents submitted as a
// writer starts wait for each other, as they did before the lane had
// ever taken a batch.
func TestNewLaneWaitsForCompany(t *testing.T) {
	w, err := NewWriter(fakeClient(t, &okEngine{}), WriterOptions{FlushInterval: time.Minute, Concurrency: 1}, nil, nil)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	l := w.lanes[0]
	l.push([]item{{doc: doc("1", 1), cost: 10}})
	if batch, wait := l.take(false); batch != nil || wait <= 0 {
		t.Fatalf("take on a new lane returned %d documents and wait %v, want none yet", len(batch), wait)
	}
}

// TestLaneDropsTheArrayOfADrainedBacklog checks that the queue a backlog
// grew is not kept once the lane has sent it all.
func TestLaneDropsTheArrayOfADrainedBacklog(t *testing.T) {
	w, err := NewWriter(fakeClient(t, &okEngine{}), WriterOptions{BulkActions: 10, Concurrency: 1}, nil, nil)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	l := w.lanes[0]
	for i := range 100 {
		l.push([]item{{doc: doc("d"+string(rune('a'+i%26)), 1), cost: 10}})
	}
	for range 10 {
		if batch, _ := l.take(false); len(batch) != 10 {
			t.Fatalf("take returned %d documents, want full batches of 10", len(batch))
		}
	}
	if l.queue != nil {
		t.Errorf("drained lane keeps a queue of capacity %d, want it dropped", cap(l.queue))
	}
}
