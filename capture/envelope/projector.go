package envelope

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/projector-dev/projector/capture"
)

// projectorEncoder writes projector's own format: the change's versioned
// JSON form (capture.Change.MarshalJSON) preceded by what a consumer of
// one change needs of its transaction and what is derived from it.
type projectorEncoder struct{ o Options }

// projectorHead is the part of a projector event in front of the change's
// own fields.
type projectorHead struct {
	SchemaVersion int         `json:"schema_version"`
	ID            string      `json:"id"`
	Type          string      `json:"type"`
	Source        string      `json:"source"`
	XID           uint32      `json:"xid"`
	CommitLSN     capture.LSN `json:"commit_lsn"`
	EndLSN        capture.LSN `json:"end_lsn"`
	CommitTime    time.Time   `json:"commit_time"`
	Snapshot      bool        `json:"snapshot,omitempty"`
	Changed       []string    `json:"changed,omitempty"`
}

func (e projectorEncoder) Append(b []byte, txn *capture.Transaction, i int) ([]byte, error) {
	c := &txn.Changes[i]
	head, err := json.Marshal(projectorHead{
		SchemaVersion: capture.SchemaVersion, ID: ID(txn, i), Type: EventType(c.Table, c.Op, e.o.Types),
		Source: txn.Source, XID: txn.XID, CommitLSN: txn.CommitLSN, EndLSN: txn.EndLSN,
		CommitTime: txn.CommitTime, Snapshot: txn.Snapshot, Changed: Changed(c),
	})
	if err != nil {
		return b, fmt.Errorf("encode event of %s: %w", c.Table, err)
	}
	change, err := c.MarshalJSON()
	if err != nil {
		return b, fmt.Errorf("encode change of %s: %w", c.Table, err)
	}
	// Both are JSON objects: join them into one.
	b = append(b, head[:len(head)-1]...)
	b = append(b, ',')
	return append(b, change[1:]...), nil
}
