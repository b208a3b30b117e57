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

// TestLaneBorrowsWhatOtherLanesHaveDue checks which documents of the
// other lanes a lane's partial batch takes along: those of lanes that are
// hurried and have no request in flight, as far as the request
// has room; and that a lane it took from sends nothing until released.
func TestLaneBorrowsWhatOtherLanesHaveDue(t *testing.T) {
	tests := []struct {
		name    string
		actions int // BulkActions
		// other is what the second lane is doing: "due" (hurried),
		// "waiting" (not hurried), "writing" (a request of its
		// own in flight) or "held" (by a third lane).
		other  string
		queued int // documents queued on the second lane
		want   int // documents of the second lane the first one's batch takes
	}{
		{name: "due and idle: taken along", actions: 10, other: "due", queued: 2, want: 2},
		{name: "as far as the request has room", actions: 3, other: "due", queued: 5, want: 2},
		{name: "not hurried: left", actions: 10, other: "waiting", queued: 2},
		{name: "own request in flight: left", actions: 10, other: "writing", queued: 2},
		{name: "held by another lane: left", actions: 10, other: "held", queued: 2},
		{name: "nothing queued", actions: 10, other: "due"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWriter(fakeClient(t, &okEngine{}), WriterOptions{FlushInterval: time.Hour, BulkActions: tt.actions, Concurrency: 2}, nil, nil)
			if err != nil {
				t.Fatalf("NewWriter: %v", err)
			}
			first, second := w.lanes[0], w.lanes[1]
			first.push([]item{{doc: doc("a", 1), cost: 10}})
			first.hurry.Store(true)
			batch, _ := first.take(false)
			if len(batch) != 1 {
				t.Fatalf("first lane took %d documents, want its one", len(batch))
			}
			for i := range tt.queued {
				second.push([]item{{doc: doc("b"+string(rune('a'+i)), 1), cost: 10}})
			}
			switch tt.other {
			case "due":
				second.hurry.Store(true)
			case "writing":
				second.hurry.Store(true)
				second.writing = true
			case "held":
				second.hurry.Store(true)
				second.held = true
			}
			batch, held := first.borrow(batch)
			if got := len(batch) - 1; got != tt.want {
				t.Fatalf("batch took %d documents of the second lane, want %d", got, tt.want)
			}
			if len(second.queue) != tt.queued-tt.want {
				t.Errorf("second lane keeps %d documents, want %d", len(second.queue), tt.queued-tt.want)
			}
			if tt.want == 0 {
				if len(held) != 0 {
					t.Errorf("%d lanes held though none was taken from", len(held))
				}
				return
			}
			if len(held) != 1 || held[0] != second {
				t.Fatalf("held %d lanes, want the second", len(held))
			}
			second.push([]item{{doc: doc("later", 1), cost: 10}})
			second.hurry.Store(true)
			if got, _ := second.take(true); got != nil {
				t.Errorf("held lane took %d documents while the request carrying its others is in flight", len(got))
			}
			release(held)
			if got, _ := second.take(true); len(got) == 0 {
				t.Error("released lane takes nothing, want what arrived while it was held")
			}
		})
	}
}

// push appends items and wakes the lane, as Writer.enqueue does for each
// lane it queues to.
func (l *lane) push(items []item) {
	l.append(items)
	l.signal()
}
