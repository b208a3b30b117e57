//go:build !chaos

package e2e

import "time"

// The short form of the fault-injection suite that runs in `make test`:
// fewer kills, a shorter outage, less data.
const (
	chaosKills   = 2
	chaosOutage  = 10 * time.Second
	chaosOrders  = 300
	chaosOps     = 1500
	chaosLongRun = false
)
