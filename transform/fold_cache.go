package transform

// stateCache keeps the decoded states of the entities folded recently,
// across groups, so that the next event of an aggregate neither reads nor
// decodes its stored state, which took about a tenth of an event's CPU
// (the row path pays nothing like it). The state row is still written with
// every event, so a restart (or a cache miss) reads it as before.
//
// Whatever removes or rewrites an entity's state rows other than through
// saveEncoded must drop its cached states (forget).
//
// Like the store's row cache it holds two generations of at most half the
// budget each: entries go into the current one, a hit in the previous one
// is copied forward, and when the current one is full it becomes the
// previous one and the oldest is dropped whole.
//
// The cache is exact, not a hint: it takes a group's states only once the
// group's batch is committed (committed), so a group that fails leaves
// behind no state the store does not hold, and forgetting an entity drops
// its states. Only the engine's goroutine uses it.
type stateCache struct {
	half      int // estimated bytes per generation
	cur, prev map[stateCacheKey]foldedState
	curBytes  int
}

// stateCacheKey is an entity's state rows' table and an aggregate's key.
type stateCacheKey struct {
	ep *entityPlan
	pk string
}

// stateCacheBudget is the estimated memory the decoded states may take:
// enough for the aggregates a busy service changes within seconds, small
// next to the 200 MB the whole process aims at.
const stateCacheBudget = 16 << 20

// stateEntryOverhead is a cached state's bookkeeping beyond its encoded
// size: the map entry, the key and the state's map.
const stateEntryOverhead = 160

func newStateCache(budget int) *stateCache {
	return &stateCache{half: budget / 2, cur: map[stateCacheKey]foldedState{}}
}

// get returns the state cached for an aggregate of ep.
func (c *stateCache) get(ep *entityPlan, pk string) (foldedState, bool) {
	k := stateCacheKey{ep: ep, pk: pk}
	if s, ok := c.cur[k]; ok {
		return s, true
	}
	s, ok := c.prev[k]
	if ok {
		delete(c.prev, k)
		c.put(k, s)
	}
	return s, ok
}

// put caches a state.
func (c *stateCache) put(k stateCacheKey, s foldedState) {
	size := stateEntryOverhead + len(k.pk) + s.size
	if size > c.half {
		delete(c.cur, k)
		delete(c.prev, k)
		return
	}
	if old, ok := c.cur[k]; ok {
		c.curBytes -= stateEntryOverhead + len(k.pk) + old.size
	} else if c.curBytes+size > c.half {
		c.prev, c.cur, c.curBytes = c.cur, map[stateCacheKey]foldedState{}, 0
	}
	delete(c.prev, k)
	c.cur[k] = s
	c.curBytes += size
}

// forget drops every cached state of ep.
func (c *stateCache) forget(ep *entityPlan) {
	for k, s := range c.cur {
		if k.ep == ep {
			delete(c.cur, k)
			c.curBytes -= stateEntryOverhead + len(k.pk) + s.size
		}
	}
	for k := range c.prev {
		if k.ep == ep {
			delete(c.prev, k)
		}
	}
}

// committed takes into the cache the states a group folded, once its
// batch is committed: from then on the store holds them.
func (f *folds) committed(a *applier) {
	for id, states := range a.folded {
		ep := f.byStates[id]
		if ep == nil {
			continue
		}
		for pk, s := range states {
			f.cache.put(stateCacheKey{ep: ep, pk: pk}, s)
		}
	}
}

// cached returns the committed state of an aggregate, if the cache holds
// it.
func (f *folds) cached(ep *entityPlan, pk string) (foldedState, bool) {
	return f.cache.get(ep, pk)
}
