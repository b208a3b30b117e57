package capture

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

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

// decodeTextRow decodes the values of one row a snapshot fetched, in the
// text format, into row by column name, taking the decoders' lock once
// per row rather than once per value. It returns the bytes the values
// took on the wire.
func (c *CatalogTypes) decodeTextRow(ctx context.Context, fields []pgconn.FieldDescription, raws [][]byte, row Row) (int64, error) {
	c.textMu.Lock()
	defer c.textMu.Unlock()
	text := c.textValues()
	var size int64
	for i, raw := range raws {
		var v any
		if raw != nil {
			var err error
			if v, err = text.DecodeText(ctx, fields[i].DataTypeOID, raw); err != nil {
				return 0, fmt.Errorf("decode column %s: %w", fields[i].Name, err)
			}
		}
		row[fields[i].Name] = v
		size += int64(len(raw))
	}
	return size, nil
}
