package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// loadKind is what each transaction of a write load does.
type loadKind int

const (
	// orderChanges inserts an order with three items, or updates an order
	// and its three items: four row changes either way.
	orderChanges loadKind = iota
	// customerRenames renames a customer, which every document of the
	// customer's orders embeds.
	customerRenames
	// singleInserts inserts one row into the single-table benchmark's
	// table: one row change.
	singleInserts
)

// loadResult is what a write load achieved.
type loadResult struct {
	txns    int64
	changes int64
	elapsed time.Duration
	behind  int64 // transactions not started on time because every worker was busy
}

// writeLoad runs transactions at rate per second (as fast as possible when
// rate is 0) for duration with workers connections. Transactions are
// scheduled on a fixed clock, not after each other, so a slow server shows
// as a lower achieved rate, not as a quietly lower offered one.
type writeLoad struct {
	pool      *pgxpool.Pool
	size      ShopSize
	nextOrder atomic.Int64
	items     atomic.Int64
}

func newWriteLoad(ctx context.Context, db *Database, size ShopSize, workers int) (*writeLoad, error) {
	cfg, err := pgxpool.ParseConfig(db.DSN)
	if err != nil {
		return nil, errors.New("the database DSN cannot be parsed")
	}
	cfg.MaxConns = int32(workers)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect the write load to %s: %w", db.Name, err)
	}
	w := &writeLoad{pool: pool, size: size}
	w.nextOrder.Store(int64(size.Orders))
	w.items.Store(int64(size.Orders * size.ItemsPerOrder))
	return w, nil
}

func (w *writeLoad) close() { w.pool.Close() }

func (w *writeLoad) run(ctx context.Context, kind loadKind, rate float64, duration time.Duration, workers int) (loadResult, error) {
	var res loadResult
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	due := make(chan struct{}, workers)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			for range due {
				changes, err := w.txn(ctx, kind, rng)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					mu.Lock()
					firstErr = cmp(firstErr, err)
					mu.Unlock()
					cancel()
					return
				}
				atomic.AddInt64(&res.txns, 1)
				atomic.AddInt64(&res.changes, int64(changes))
			}
		}()
	}
	schedule(ctx, rate, start, due, &res.behind)
	close(due)
	wg.Wait()
	res.elapsed = time.Since(start)
	return res, firstErr
}

// schedule hands out one transaction per tick of the rate's clock until
// ctx ends; a tick that finds every worker busy is counted as behind and
// handed out as soon as one is free.
func schedule(ctx context.Context, rate float64, start time.Time, due chan<- struct{}, behind *int64) {
	for i := 0; ctx.Err() == nil; i++ {
		if rate > 0 {
			at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			select {
			case due <- struct{}{}:
				continue
			default:
				*behind++
			}
		}
		select {
		case due <- struct{}{}:
		case <-ctx.Done():
			return
		}
	}
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// txn runs one transaction as a single pipelined batch (one round trip,
// one implicit transaction) and returns its row changes.
func (w *writeLoad) txn(ctx context.Context, kind loadKind, rng *rand.Rand) (int, error) {
	b := &pgx.Batch{}
	changes := 1
	switch {
	case kind == singleInserts:
		b.Queue(`INSERT INTO `+leanTable+` VALUES ($1, 'insert', $2, now())`, w.nextOrder.Add(1), rng.Int64N(10000))
	case kind == customerRenames:
		b.Queue(`UPDATE customers SET name = $2 WHERE id = $1`, 1+rng.Int64N(int64(w.size.Customers)), fmt.Sprintf("Customer %x", rng.Uint32()))
	case rng.IntN(2) == 0:
		id := w.nextOrder.Add(1)
		first := w.items.Add(int64(w.size.ItemsPerOrder)) - int64(w.size.ItemsPerOrder) + 1
		b.Queue(`INSERT INTO orders VALUES ($1, $2, 'placed', $3, now())`, id, 1+rng.Int64N(int64(w.size.Customers)), rng.Int64N(10000))
		b.Queue(`INSERT INTO order_items SELECT g, $1, 'SKU-' || g % 5000, 1 + g % 4, 250 + g % 2000
			FROM generate_series($2::int8, $3::int8) g`, id, first, first+int64(w.size.ItemsPerOrder)-1)
		changes = 1 + w.size.ItemsPerOrder
	default:
		id := 1 + rng.Int64N(int64(w.size.Orders))
		b.Queue(`UPDATE orders SET status = 'paid', total_cents = total_cents + 1 WHERE id = $1`, id)
		b.Queue(`UPDATE order_items SET quantity = quantity % 4 + 1 WHERE order_id = $1`, id)
		changes = 1 + w.size.ItemsPerOrder
	}
	if err := w.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("write load transaction: %w", err)
	}
	return changes, nil
}
