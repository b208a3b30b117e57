package envelope

import (
	"strconv"

	"github.com/projector-dev/projector/capture"
)

// debeziumEncoder writes Debezium's change event envelope, as Debezium's
// PostgreSQL connector writes it through the JSON converter with schemas
// disabled. Values are written as documents show them, not in Kafka
// Connect's encodings (see docs/events.md).
type debeziumEncoder struct{ o Options }

// debeziumOps are Debezium's op codes.
var debeziumOps = map[capture.Op]string{
	capture.Read: "r", capture.Insert: "c", capture.Update: "u", capture.Delete: "d", capture.Truncate: "t",
}

func (e debeziumEncoder) Append(b []byte, txn *capture.Transaction, i int) ([]byte, error) {
	c := &txn.Changes[i]
	b = append(b, `{"before":`...)
	b = capture.AppendRow(b, c.Old)
	b = append(b, `,"after":`...)
	b = capture.AppendRow(b, c.New)
	b = append(b, `,"source":{"version":`...)
	b = capture.AppendValue(b, e.o.Version)
	b = append(b, `,"connector":"postgresql","name":`...)
	b = capture.AppendValue(b, txn.Source)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, txn.CommitTime.UnixMilli(), 10)
	b = append(b, `,"snapshot":`...)
	b = capture.AppendValue(b, debeziumSnapshot(txn, i))
	b = append(b, `,"db":`...)
	b = capture.AppendValue(b, e.o.Database)
	b = append(b, `,"schema":`...)
	b = capture.AppendValue(b, c.Table.Schema)
	b = append(b, `,"table":`...)
	b = capture.AppendValue(b, c.Table.Name)
	b = append(b, `,"txId":`...)
	if txn.XID == 0 {
		b = append(b, "null"...) // snapshot rows belong to no source transaction
	} else {
		b = strconv.AppendUint(b, uint64(txn.XID), 10)
	}
	b = append(b, `,"lsn":`...)
	b = strconv.AppendUint(b, uint64(txn.CommitLSN), 10)
	b = append(b, `},"op":`...)
	b = capture.AppendValue(b, debeziumOps[c.Op])
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, e.o.Now().UnixMilli(), 10)
	return append(b, '}'), nil
}

// debeziumSnapshot is source.snapshot: "true" for a row of the initial
// snapshot, "last" for the last one, "false" for a streamed change.
func debeziumSnapshot(txn *capture.Transaction, i int) string {
	switch {
	case !txn.Snapshot:
		return "false"
	case txn.SnapshotDone && i == len(txn.Changes)-1:
		return "last"
	}
	return "true"
}
