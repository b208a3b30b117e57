package transform

import (
	"testing"

	"github.com/projector-dev/projector/capture"
)

func TestPositionQuotedIsStringAsJSON(t *testing.T) {
	for _, p := range []position{
		{},
		{lsn: 0x16B3748, index: 7},
		{lsn: capture.LSN(0xABCDEF01_23456789), index: 123456},
		{lsn: capture.LSN(1<<32 | 0xA), index: 0},
	} {
		want := `"` + p.String() + `"`
		if got := p.quoted(); got != want {
			t.Errorf("%v quoted = %s, want %s", p, got, want)
		}
		back, err := parsePosition(p.quoted()[1 : len(p.quoted())-1])
		if err != nil || back != p {
			t.Errorf("%v quoted reads back as %v, %v", p, back, err)
		}
	}
}

func TestStateCacheKeepsRecentStatesWithinItsBudget(t *testing.T) {
	ep, other := &entityPlan{}, &entityPlan{}
	st := func(n int) foldedState {
		return foldedState{state: map[string]any{"n": n}, pos: position{index: n}, size: 100 - stateEntryOverhead - 2}
	}
	// Two generations of 300 estimated bytes: three states of 100 each.
	c := newStateCache(600)
	for i := range 3 {
		c.put(stateCacheKey{ep: ep, pk: string(rune('a' + i))}, st(i))
	}
	if _, ok := c.get(ep, "a"); !ok {
		t.Fatal("a state within the budget is not cached")
	}
	if _, ok := c.get(other, "a"); ok {
		t.Fatal("a state is found under another entity")
	}
	// A fourth starts a new generation; the three stay in the previous one.
	c.put(stateCacheKey{ep: ep, pk: "d"}, st(3))
	for _, pk := range []string{"a", "b", "c", "d"} {
		if got, ok := c.get(ep, pk); !ok || got.pos.index != int(pk[0]-'a') {
			t.Fatalf("state %s = %v, %v after a new generation began", pk, got, ok)
		}
	}
	// The hits were copied forward: the generation turned, and "a" (the
	// oldest of the current one) is dropped once three more arrive.
	for _, pk := range []string{"e", "f", "g"} {
		c.put(stateCacheKey{ep: ep, pk: pk}, st(int(pk[0]-'a')))
	}
	if _, ok := c.get(ep, "a"); ok {
		t.Error("a state two generations old is still cached")
	}
	if got, ok := c.get(ep, "g"); !ok || got.pos.index != 6 {
		t.Errorf("the newest state = %v, %v", got, ok)
	}
	// Replacing a state keeps one entry of the newer value.
	c.put(stateCacheKey{ep: ep, pk: "g"}, st(60))
	if got, _ := c.get(ep, "g"); got.pos.index != 60 {
		t.Errorf("replaced state = %v, want index 60", got)
	}
	// A state larger than a generation is not kept, and drops its older
	// value: the cache never answers with a state the store replaced.
	c.put(stateCacheKey{ep: ep, pk: "g"}, foldedState{size: 1000})
	if _, ok := c.get(ep, "g"); ok {
		t.Error("a state larger than the budget is cached, or its older value")
	}
	c.put(stateCacheKey{ep: other, pk: "x"}, st(1))
	c.forget(ep)
	for _, pk := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		if _, ok := c.get(ep, pk); ok {
			t.Errorf("state %s of a forgotten entity is still cached", pk)
		}
	}
	if _, ok := c.get(other, "x"); !ok {
		t.Error("forgetting one entity dropped another's state")
	}
}
