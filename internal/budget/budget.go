// Package budget bounds the memory projector's pipeline holds, in bytes,
// with one backpressure policy for every stage.
//
// # Policy
//
// Each stage that buffers work for the next one owns a [Budget]: the
// producer acquires an item's weight before it hands the item on and the
// consumer releases it once the item has left the stage, which for the
// feed is when the engine has applied it, not when it takes it: what is
// being worked on is held as much as what waits, and a share that let a
// stage refill while its consumer still holds the last of it bounded
// neither. Acquire blocks
// while the budget is spent, which slows the producer down (and in the end
// the replication stream, so the server keeps the WAL) instead of growing
// memory; it gives up when its context ends. An item heavier than the
// whole budget is charged the whole budget, so it waits until the stage is
// empty and then passes alone: nothing ever waits for room that cannot
// come. Waiters are served in arrival order, so a heavy item is not
// starved by a stream of light ones.
//
// Weights are estimated once, in bytes, where the item is made (a
// transaction where capture decodes or copies it, a document where the
// sink accepts it) and carried with it; they approximate what the item
// holds in memory, not its wire size, and tests compare them with the
// heap (capture's TestDecodedWeightMatchesHeap).
//
// # Shares
//
// The budget of the whole pipeline, [Default], is 32 MiB, divided between
// the stages as follows, each stage bounded on its own so that a full
// stage downstream never starves one upstream of the room it needs to
// drain into it (which would deadlock):
//
//   - Snapshot (8 MiB, for each source): what capture copied or decoded
//     and has not yet handed to the feed: snapshot chunks (up to 5,000
//     rows, so about two wait) and streamed transactions queued while the
//     feed is full.
//   - Feed (8 MiB): transactions handed to the engine and not yet applied,
//     those waiting and those of the group being applied: about a full
//     group of the engine's (10,000 events) of rows of six short columns
//     (some 650 bytes each), so the rows of a burst past capture stay
//     within the share whatever the engine is doing; the feed also holds
//     at most 4,096 transactions, whatever they weigh. The engine never
//     waits for feed room, so holding its group's charge cannot deadlock
//     it, and a transaction heavier than the share is applied alone.
//   - Sink (16 MiB): documents accepted by the sink and not yet durable in
//     the index (projector_sink_buffered_bytes), about ten times what the
//     bulk requests in flight carry.
//
// No configuration key sets these: the sink's bulk_bytes and concurrency
// shape requests within the sink's share, and GOMEMLIMIT bounds the
// process as a whole. docs/adr/0005-memory-budget.md records why the
// budget is one package with one policy.
package budget

import (
	"context"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// Budget is one stage's bound on the bytes it holds. It is safe for
// concurrent use.
type Budget struct {
	size int64
	sem  *semaphore.Weighted
	held atomic.Int64
}

// New returns a budget of size bytes; a size below 1 is taken as 1.
func New(size int64) *Budget {
	size = max(size, 1)
	return &Budget{size: size, sem: semaphore.NewWeighted(size)}
}

// Size is the number of bytes the budget allows.
func (b *Budget) Size() int64 { return b.size }

// Held is the number of bytes acquired and not yet released.
func (b *Budget) Held() int64 { return b.held.Load() }

// Charge is what an item weighing n bytes holds of the budget: n, but
// never more than the whole budget (so that it can pass, alone) and never
// negative.
func (b *Budget) Charge(n int64) int64 { return min(max(n, 0), b.size) }

// Acquire waits until the charge for an item of n bytes is free, then
// holds it and returns it; the caller releases exactly that charge once
// the item has left the stage. It returns ctx.Err() if ctx ends first,
// holding nothing.
func (b *Budget) Acquire(ctx context.Context, n int64) (int64, error) {
	charge := b.Charge(n)
	if err := b.sem.Acquire(ctx, charge); err != nil {
		return 0, err
	}
	b.held.Add(charge)
	return charge, nil
}

// TryAcquire holds the charge for n bytes if it is free now, without
// waiting, and reports whether it did.
func (b *Budget) TryAcquire(n int64) (int64, bool) {
	charge := b.Charge(n)
	if !b.sem.TryAcquire(charge) {
		return 0, false
	}
	b.held.Add(charge)
	return charge, true
}

// Release returns a charge Acquire gave. Releasing more than is held is a
// bug in the caller and panics.
func (b *Budget) Release(charge int64) {
	if charge == 0 {
		return
	}
	b.held.Add(-charge)
	b.sem.Release(charge)
}
