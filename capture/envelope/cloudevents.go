package envelope

import (
	"github.com/projector-dev/projector/capture"
)

// cloudEventsEncoder writes a CloudEvents 1.0 event in structured JSON
// mode. Its data is the change: op, table, key, before and after.
type cloudEventsEncoder struct{ o Options }

func (e cloudEventsEncoder) Append(b []byte, txn *capture.Transaction, i int) ([]byte, error) {
	c := &txn.Changes[i]
	b = append(b, `{"specversion":"1.0","id":`...)
	b = capture.AppendValue(b, ID(txn, i))
	b = append(b, `,"source":`...)
	b = capture.AppendValue(b, "/projector/sources/"+txn.Source)
	b = append(b, `,"type":`...)
	b = capture.AppendValue(b, cloudEventType(c, e.o.Types))
	b = append(b, `,"time":`...)
	b = capture.AppendValue(b, txn.CommitTime)
	if len(c.Key) > 0 && c.Op != capture.Truncate {
		b = append(b, `,"subject":`...)
		b = capture.AppendValue(b, string(AppendKey(nil, c)))
	}
	b = append(b, `,"datacontenttype":"application/json","data":{"op":`...)
	b = capture.AppendValue(b, string(c.Op))
	b = append(b, `,"table":`...)
	b = capture.AppendValue(b, c.Table.String())
	b = append(b, `,"key":`...)
	b = AppendKey(b, c)
	b = append(b, `,"before":`...)
	b = capture.AppendRow(b, c.Old)
	b = append(b, `,"after":`...)
	b = capture.AppendRow(b, c.New)
	return append(b, "}}"...), nil
}

// cloudEventType is the type configured for the table's event, or
// "projector.<schema>.<table>.<verb>".
func cloudEventType(c *capture.Change, types EventTypes) string {
	verb := Verb(c.Op)
	if name := types[c.Table.String()][verb]; name != "" {
		return name
	}
	return "projector." + c.Table.String() + "." + verb
}
