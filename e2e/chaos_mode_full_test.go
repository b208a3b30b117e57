//go:build chaos

package e2e

import "time"

// The full fault-injection suite, `make chaos`: a minute of workload per
// scenario.
const (
	chaosKills  = 5
	chaosOutage = 30 * time.Second
	chaosOrders = 2000
	chaosOps    = 3000
	chaosRate   = 50
)

// chaosHugeRows is the size of the huge transaction TestChaosHugeTransaction
// kills projector in.
const chaosHugeRows = 300_000

// hugeTxnRows is the default size of TestHugeTransaction's transactions.
const hugeTxnRows = 1_000_000

// reconnectHugeRows and reconnectPadBytes size the update
// TestChaosHugeTransactionReconnect cuts the replication connection in.
const (
	reconnectHugeRows = 100_000
	reconnectPadBytes = 1800
)
