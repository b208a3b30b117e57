package daemon

import (
	"runtime/debug"
	runtimemetrics "runtime/metrics"
	"time"

	"github.com/projector-dev/projector/capture"
)

// The daemon gives memory back to the operating system when work that grew
// the heap is over: a snapshot that is done and written, or a burst of
// changes followed by a quiet stream.
//
// A busy pipeline grows the heap to its busiest (rows decoded, documents
// queued for the index, the store's memtables and compactions), and the
// Go runtime only gives freed memory back slowly and after a collection,
// which a quiet stream allocates too little to trigger: a sidecar that
// copied a table or took a burst went on holding that resident memory
// while it streamed a few changes a second. One forced collection when the
// work is known to be over costs a few milliseconds.
const (
	// quietReleaseEvery is the shortest time between two releases after
	// bursts: a stream that alternates between bursts and quiet moments
	// pays for one collection a minute at most.
	quietReleaseEvery = time.Minute
	// releaseWorth is how much more than the live heap the heap must hold
	// for a release after a burst to be worth a collection.
	releaseWorth = 16 << 20
)

// memoryRelease decides when to give memory back; the monitor feeds it
// each measurement.
type memoryRelease struct {
	copying  bool // the last measurement saw a snapshot copying or being written
	busy     bool // positions were confirmed since the last release
	released time.Time
	// confirmed is each stream's confirmed position at the last measurement.
	confirmed map[*capture.Stream]capture.LSN
	// free returns unused memory to the operating system and retained
	// says how many bytes the heap holds beyond what is live; nil takes
	// the runtime's.
	free     func()
	retained func() uint64
}

// releaseAfterWork is called once per measurement with whether it saw a
// snapshot copying (or its documents still being written), at now.
func (m *monitor) releaseAfterWork(copying bool, now time.Time) {
	r := &m.release
	if r.confirmed == nil {
		r.confirmed = map[*capture.Stream]capture.LSN{}
	}
	moved := false
	for _, s := range m.streams {
		c := s.Confirmed()
		if old, ok := r.confirmed[s]; ok && c != old {
			moved = true
		}
		r.confirmed[s] = c
	}
	if r.decide(copying, moved, now) {
		free := r.free
		if free == nil {
			free = debug.FreeOSMemory
		}
		free()
		m.log.Debug("work done: returned the memory it used to the operating system")
	}
}

// decide says whether to release now: once a copy is over, or once the
// stream is quiet (nothing confirmed since the last measurement) after it
// was busy, at most every quietReleaseEvery and only when the heap holds
// releaseWorth more than is live.
func (r *memoryRelease) decide(copying, moved bool, now time.Time) bool {
	wasCopying := r.copying
	r.copying = copying
	r.busy = r.busy || moved
	switch {
	case copying:
		return false
	case wasCopying:
	case moved || !r.busy || now.Sub(r.released) < quietReleaseEvery:
		return false
	default:
		retained := r.retained
		if retained == nil {
			retained = heapRetained
		}
		if retained() < releaseWorth {
			return false
		}
	}
	r.busy, r.released = false, now
	return true
}

// heapRetainedMetrics are what heapRetained reads: the heap's objects
// (live or not yet swept), its unused and free bytes, and the live heap.
func heapRetainedMetrics() []string {
	return []string{
		"/memory/classes/heap/objects:bytes",
		"/memory/classes/heap/unused:bytes",
		"/memory/classes/heap/free:bytes",
		"/gc/heap/live:bytes",
	}
}

// heapRetained is how many bytes the heap holds, not yet returned to the
// operating system, beyond what the last collection found live.
func heapRetained() uint64 {
	names := heapRetainedMetrics()
	samples := make([]runtimemetrics.Sample, len(names))
	for i, name := range names {
		samples[i].Name = name
	}
	runtimemetrics.Read(samples)
	for _, s := range samples {
		if s.Value.Kind() != runtimemetrics.KindUint64 {
			return 0 // not measured by this runtime: never worth it
		}
	}
	held := samples[0].Value.Uint64() + samples[1].Value.Uint64() + samples[2].Value.Uint64()
	live := samples[3].Value.Uint64()
	if held < live {
		return 0
	}
	return held - live
}
