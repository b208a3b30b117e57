package budget

import (
	"context"
	"errors"
	"testing"
	"time"
)

// acquireWithin reports whether Acquire returns within wait; one still
// blocked then is cancelled, and must end with context.Canceled holding
// nothing.
func acquireWithin(t *testing.T, b *Budget, n int64, wait time.Duration) (int64, bool) {
	t.Helper()
	type result struct {
		charge int64
		err    error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		c, err := b.Acquire(ctx, n)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("acquire %d: %v", n, r.err)
		}
		return r.charge, true
	case <-time.After(wait):
		held := b.Held()
		cancel()
		r := <-done
		if !errors.Is(r.err, context.Canceled) || r.charge != 0 {
			t.Fatalf("cancelled acquire of %d returned %d, %v; want 0, context.Canceled", n, r.charge, r.err)
		}
		if b.Held() != held {
			t.Fatalf("cancelled acquire changed what is held: %d, was %d", b.Held(), held)
		}
		return 0, false
	}
}

func TestBudget(t *testing.T) {
	// Each step releases the charges of earlier steps, then acquires n
	// bytes of a 10-byte budget.
	steps := []struct {
		what    string
		release []int // indexes of earlier steps whose charge is released first
		n       int64
		passes  bool
		charge  int64
		held    int64 // after the step
	}{
		{what: "4 bytes into an empty budget", n: 4, passes: true, charge: 4, held: 4},
		{what: "up to 8 of 10", n: 4, passes: true, charge: 4, held: 8},
		{what: "12 of 10 blocks", n: 4, passes: false, held: 8},
		{what: "exactly full", n: 2, passes: true, charge: 2, held: 10},
		{what: "nothing weighs nothing, even when full", n: 0, passes: true, charge: 0, held: 10},
		{what: "room made by a release", release: []int{0}, n: 3, passes: true, charge: 3, held: 9},
		{what: "an oversize item waits while anything is held", release: []int{1}, n: 50, passes: false, held: 5},
		{what: "an oversize item passes alone, charged the whole budget", release: []int{3, 5}, n: 50, passes: true, charge: 10, held: 10},
		{what: "nothing passes beside it", n: 1, passes: false, held: 10},
		{what: "after it, the budget is whole again", release: []int{7}, n: 10, passes: true, charge: 10, held: 10},
		{what: "a negative weight is charged nothing", n: -5, passes: true, charge: 0, held: 10},
	}
	b := New(10)
	charges := make([]int64, len(steps))
	for i, st := range steps {
		for _, r := range st.release {
			b.Release(charges[r])
		}
		wait := 10 * time.Second
		if !st.passes {
			wait = 50 * time.Millisecond
		}
		charge, passed := acquireWithin(t, b, st.n, wait)
		if passed != st.passes {
			t.Fatalf("step %d (%s): passed = %v, want %v", i, st.what, passed, st.passes)
		}
		if charge != st.charge {
			t.Fatalf("step %d (%s): charged %d, want %d", i, st.what, charge, st.charge)
		}
		charges[i] = charge
		if b.Held() != st.held {
			t.Fatalf("step %d (%s): held %d, want %d", i, st.what, b.Held(), st.held)
		}
	}
}

func TestBudgetWakesBlockedAcquireOnRelease(t *testing.T) {
	b := New(10)
	full, err := b.Acquire(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int64, 1)
	go func() {
		c, err := b.Acquire(context.Background(), 6)
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	select {
	case <-got:
		t.Fatal("acquire passed a full budget")
	case <-time.After(50 * time.Millisecond):
	}
	b.Release(full)
	select {
	case c := <-got:
		if c != 6 || b.Held() != 6 {
			t.Fatalf("charge %d, held %d; want 6, 6", c, b.Held())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("release did not wake the blocked acquire")
	}
}

func TestBudgetServesInArrivalOrder(t *testing.T) {
	// A heavy item waiting is not overtaken by a light one that would fit:
	// otherwise a steady stream of small transactions starves a snapshot
	// chunk forever.
	b := New(10)
	first, _ := b.Acquire(context.Background(), 5)
	heavy := make(chan struct{})
	go func() {
		if _, err := b.Acquire(context.Background(), 10); err != nil {
			t.Error(err)
		}
		close(heavy)
	}()
	for b.Held() != 5 || !waiting(b) {
		time.Sleep(time.Millisecond)
	}
	if _, ok := b.TryAcquire(1); ok {
		t.Fatal("a light item overtook the heavy one waiting")
	}
	b.Release(first)
	select {
	case <-heavy:
	case <-time.After(10 * time.Second):
		t.Fatal("the heavy item never passed")
	}
}

// waiting reports whether an Acquire is queued: a TryAcquire of nothing
// fails only then.
func waiting(b *Budget) bool {
	_, ok := b.TryAcquire(0)
	return !ok
}

func TestBudgetCancelledBeforeAcquire(t *testing.T) {
	b := New(10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	full, _ := b.Acquire(context.Background(), 10)
	if c, err := b.Acquire(ctx, 1); !errors.Is(err, context.Canceled) || c != 0 {
		t.Fatalf("got %d, %v; want 0, context.Canceled", c, err)
	}
	b.Release(full)
	if b.Held() != 0 {
		t.Fatalf("held %d after releasing everything", b.Held())
	}
}

func TestDefaultShares(t *testing.T) {
	s := Default()
	if s.Snapshot <= 0 || s.Feed <= 0 || s.Sink <= 0 {
		t.Fatalf("every stage needs a share: %+v", s)
	}
	if s.Total() != 32<<20 {
		t.Fatalf("total %d, want 32 MiB as documented", s.Total())
	}
}
