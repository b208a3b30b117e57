//go:build !chaos

package e2e

import "time"

// The short form of the fault-injection suite that runs in `make test`:
// fewer kills, a shorter outage, less data, 20 s of workload per scenario.
const (
	chaosKills  = 2
	chaosOutage = 10 * time.Second
	chaosOrders = 300
	chaosOps    = 1000
	chaosRate   = 50
)

// chaosHugeRows is the size of the huge transaction TestChaosHugeTransaction
// kills projector in.
const chaosHugeRows = 60_000

// hugeTxnRows is the default size of TestHugeTransaction's transactions:
// smaller than the full suite's million, which takes a quarter of an hour
// on the 2-core test bed.
const hugeTxnRows = 200_000

// reconnectHugeRows and reconnectPadBytes size the update
// TestChaosHugeTransactionReconnect cuts the replication connection in: rows of
// about 1.8 kB, of which 13,600 had been handed downstream when projector
// reconnected, in a run on the 2-core test bed (22,000 to 23,700 before the
// feed's share began to hold the group being applied too).
const (
	reconnectHugeRows = 30_000
	reconnectPadBytes = 1800
)
