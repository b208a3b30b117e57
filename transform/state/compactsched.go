package state

import (
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// compactionScheduler limits the store's concurrent compactions to what
// the store allows, as pebble's default scheduler does, but samples that
// allowance once a second rather than ten times: the default's 100 ms
// ticker woke the process ten times a second however little was written,
// a measurable share of a light stream's CPU time. A compaction finishing,
// a flush, or the allowance rising still grants at once; only a
// compaction the store wanted while none could run waits up to a second
// longer, which nothing in projector notices.
type compactionScheduler struct {
	db   pebble.DBForCompaction
	stop chan struct{}
	poke chan struct{}
	done chan struct{}

	mu           sync.Mutex
	granting     bool       // a goroutine is granting; others wait on idle
	idle         *sync.Cond // signalled when granting turns false
	running      int        // compactions granted and not done
	allowed      int        // the store's allowance when last sampled
	unregistered bool
}

// compactionSample is how often the scheduler samples the store's
// allowance by itself.
const compactionSample = time.Second

var _ pebble.CompactionScheduler = (*compactionScheduler)(nil)

func newCompactionScheduler() *compactionScheduler {
	s := &compactionScheduler{stop: make(chan struct{}), poke: make(chan struct{}, 1), done: make(chan struct{})}
	s.idle = sync.NewCond(&s.mu)
	return s
}

// Register starts the periodic sampling for db.
func (s *compactionScheduler) Register(_ int, db pebble.DBForCompaction) {
	s.db = db
	go s.sample()
}

// Unregister stops the sampling and waits until no grant is under way.
func (s *compactionScheduler) Unregister() {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unregistered = true
	for s.granting {
		s.idle.Wait()
	}
}

// TrySchedule grants a compaction the store asks for while it allows more
// than are running.
func (s *compactionScheduler) TrySchedule() (bool, pebble.CompactionGrantHandle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unregistered {
		return false, nil
	}
	s.allowed = s.db.GetAllowedWithoutPermission()
	if s.allowed > s.running {
		s.running++
		return true, s
	}
	return false, nil
}

// UpdateGetAllowedWithoutPermission has the sampler grant at once when the
// allowance rose. It may be called with the store's locks held, so it
// only pokes the sampler.
func (s *compactionScheduler) UpdateGetAllowedWithoutPermission() {
	s.mu.Lock()
	allowed := s.db.GetAllowedWithoutPermission()
	rose := allowed > s.allowed
	s.allowed = allowed
	s.mu.Unlock()
	if rose {
		select {
		case s.poke <- struct{}{}:
		default:
		}
	}
}

// Started, MeasureCPU and CumulativeStats are part of the grant handle;
// the scheduler does not pace compactions.
func (s *compactionScheduler) Started()                                          {}
func (s *compactionScheduler) MeasureCPU(pebble.CompactionGoroutineKind)         {}
func (s *compactionScheduler) CumulativeStats(pebble.CompactionGrantHandleStats) {}

// Done ends a granted compaction and grants what waits in its place.
func (s *compactionScheduler) Done() {
	s.mu.Lock()
	s.running--
	s.grantAndUnlock()
}

func (s *compactionScheduler) sample() {
	defer close(s.done)
	tick := time.NewTicker(compactionSample)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-s.poke:
		case <-s.stop:
			return
		}
		s.mu.Lock()
		s.grantAndUnlock()
	}
}

// grantAndUnlock grants waiting compactions up to the store's allowance,
// one granter at a time; s.mu is held on entry and released on return.
func (s *compactionScheduler) grantAndUnlock() {
	defer s.mu.Unlock()
	for s.granting && !s.unregistered {
		s.idle.Wait()
	}
	if s.unregistered {
		return
	}
	s.allowed = s.db.GetAllowedWithoutPermission()
	n := s.allowed - s.running
	if n <= 0 {
		return
	}
	s.granting = true
	s.mu.Unlock()
	// The store is asked for its waiting compaction only when one can be
	// granted, so that it does not pick one for nothing.
	for ; n > 0; n-- {
		if waiting, _ := s.db.GetWaitingCompaction(); !waiting || !s.db.Schedule(s) {
			break
		}
		s.mu.Lock()
		s.running++
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.granting = false
	s.idle.Broadcast()
}
