package capture

import (
	"github.com/projector-dev/projector/capture/pgoutput"
)

// Values are decoded by capture/pgoutput, for the replication stream and
// for snapshots alike; capture counts the lossy ones in
// projector_lossy_values_total.
type (
	lossyReason = pgoutput.LossyReason
	lossyCounts = pgoutput.LossyCounts
)

// lossyReasons is the number of lossy reasons.
const lossyReasons = pgoutput.LossyReasons

// takeLossy returns the lossy values the snapshot decoder met since the
// last call.
func (c *CatalogTypes) takeLossy() lossyCounts {
	c.textMu.Lock()
	defer c.textMu.Unlock()
	if c.text == nil {
		return lossyCounts{}
	}
	return c.text.TakeLossy()
}
