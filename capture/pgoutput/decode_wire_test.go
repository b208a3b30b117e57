package pgoutput

import (
	"encoding/binary"
	"time"
)

// wire builds pgoutput messages byte by byte, as the server lays them out
// (https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html).
type wire struct{ b []byte }

func wireMsg(kind byte) *wire { return &wire{b: []byte{kind}} }

func (w *wire) u8(v byte) *wire        { w.b = append(w.b, v); return w }
func (w *wire) u16(v uint16) *wire     { w.b = binary.BigEndian.AppendUint16(w.b, v); return w }
func (w *wire) u32(v uint32) *wire     { w.b = binary.BigEndian.AppendUint32(w.b, v); return w }
func (w *wire) u64(v uint64) *wire     { w.b = binary.BigEndian.AppendUint64(w.b, v); return w }
func (w *wire) str(s string) *wire     { w.b = append(append(w.b, s...), 0); return w }
func (w *wire) rawJSON(b []byte) *wire { w.b = append(w.b, b...); return w }

// xid writes the transaction id that messages inside a stream segment
// carry; 0 means the message is outside a stream.
func (w *wire) xid(xid uint32) *wire {
	if xid != 0 {
		w.u32(xid)
	}
	return w
}

// ts writes a timestamp as microseconds since 2000-01-01 UTC.
func (w *wire) ts(t time.Time) *wire {
	return w.u64(uint64(t.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Microseconds()))
}

// cell is one column of tuple data.
type cell struct {
	kind byte // 'n', 'u', 't' or 'b'
	data []byte
}

func txt(s string) cell     { return cell{kind: 't', data: []byte(s)} }
func binCell(b []byte) cell { return cell{kind: 'b', data: b} }
func nullCell() cell        { return cell{kind: 'n'} }
func unchangedToast() cell  { return cell{kind: 'u'} }

func (w *wire) tuple(cells ...cell) *wire {
	w.u16(uint16(len(cells)))
	for _, c := range cells {
		w.u8(c.kind)
		if c.kind == 't' || c.kind == 'b' {
			w.u32(uint32(len(c.data))).rawJSON(c.data)
		}
	}
	return w
}

// col describes one column of a Relation message.
type col struct {
	name string
	oid  uint32
	key  bool
}

func beginMsg(final LSN, at time.Time, xid uint32) []byte {
	return wireMsg('B').u64(uint64(final)).ts(at).u32(xid).b
}

func commitMsg(commit, end LSN, at time.Time) []byte {
	return wireMsg('C').u8(0).u64(uint64(commit)).u64(uint64(end)).ts(at).b
}

func originMsg(lsn LSN, name string) []byte { return wireMsg('O').u64(uint64(lsn)).str(name).b }

func relationMsg(xid, oid uint32, schema, name string, cols ...col) []byte {
	w := wireMsg('R').xid(xid).u32(oid).str(schema).str(name).u8('d').u16(uint16(len(cols)))
	for _, c := range cols {
		var flags byte
		if c.key {
			flags = 1
		}
		w.u8(flags).str(c.name).u32(c.oid).u32(0xFFFFFFFF)
	}
	return w.b
}

func typeMsg(xid, oid uint32, schema, name string) []byte {
	return wireMsg('Y').xid(xid).u32(oid).str(schema).str(name).b
}

func insertMsg(xid, rel uint32, cells ...cell) []byte {
	return wireMsg('I').xid(xid).u32(rel).u8('N').tuple(cells...).b
}

// updateMsg writes an update; oldKind is 'K', 'O' or 0 for no old tuple.
func updateMsg(xid, rel uint32, oldKind byte, old, new []cell) []byte {
	w := wireMsg('U').xid(xid).u32(rel)
	if oldKind != 0 {
		w.u8(oldKind).tuple(old...)
	}
	return w.u8('N').tuple(new...).b
}

func deleteMsg(xid, rel uint32, oldKind byte, old ...cell) []byte {
	return wireMsg('D').xid(xid).u32(rel).u8(oldKind).tuple(old...).b
}

func truncateMsg(xid uint32, options byte, rels ...uint32) []byte {
	w := wireMsg('T').xid(xid).u32(uint32(len(rels))).u8(options)
	for _, r := range rels {
		w.u32(r)
	}
	return w.b
}

func logicalMsg(xid uint32, transactional bool, lsn LSN, prefix string, content []byte) []byte {
	var flags byte
	if transactional {
		flags = 1
	}
	return wireMsg('M').xid(xid).u8(flags).u64(uint64(lsn)).str(prefix).u32(uint32(len(content))).rawJSON(content).b
}

func streamStartMsg(xid uint32, first bool) []byte {
	var f byte
	if first {
		f = 1
	}
	return wireMsg('S').u32(xid).u8(f).b
}

func streamStopMsg() []byte { return wireMsg('E').b }

func streamCommitMsg(xid uint32, commit, end LSN, at time.Time) []byte {
	return wireMsg('c').u32(xid).u8(0).u64(uint64(commit)).u64(uint64(end)).ts(at).b
}

func streamAbortMsg(xid, subxid uint32) []byte { return wireMsg('A').u32(xid).u32(subxid).b }

// streamAbortV4Msg is a Stream Abort of protocol 4 with streaming
// 'parallel', which appends the abort LSN and time.
func streamAbortV4Msg(xid, subxid uint32, lsn LSN, at time.Time) []byte {
	return wireMsg('A').u32(xid).u32(subxid).u64(uint64(lsn)).ts(at).b
}
