package pgoutput

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

// The pgoutput messages are laid out in PostgreSQL's documentation,
// "Logical Replication Message Formats". Each is read whole here, every
// field checked against the bytes left, before it changes the decoder's
// state: a garbled length is an error, never a panic or a huge
// allocation. Fields the protocol may append in later versions are
// allowed after the known ones.

// messageName names a message type the way PostgreSQL's documentation
// does, for errors.
func messageName(kind byte) string {
	switch kind {
	case 'B':
		return "Begin"
	case 'C':
		return "Commit"
	case 'O':
		return "Origin"
	case 'R':
		return "Relation"
	case 'Y':
		return "Type"
	case 'I':
		return "Insert"
	case 'U':
		return "Update"
	case 'D':
		return "Delete"
	case 'T':
		return "Truncate"
	case 'M':
		return "Message"
	case 'S':
		return "StreamStart"
	case 'E':
		return "StreamStop"
	case 'c':
		return "StreamCommit"
	case 'A':
		return "StreamAbort"
	default:
		return fmt.Sprintf("%q", kind)
	}
}

type beginMessage struct {
	finalLSN   LSN
	commitTime time.Time
	xid        uint32
}

type commitMessage struct {
	commitLSN, endLSN LSN
	commitTime        time.Time
}

type relationMessage struct {
	id              uint32
	namespace, name string
	// replicaIdentity is the table's REPLICA IDENTITY setting: 'd'
	// (default), 'n' (nothing), 'f' (full) or 'i' (index).
	replicaIdentity byte
	columns         []relationColumn
}

type relationColumn struct {
	flags   byte
	name    string
	typeOID uint32
}

// rowMessage is an Insert, Update or Delete. oldKind is 'K' when old
// holds the key columns, 'O' when it holds the whole old row, and 0 when
// there is no old tuple. Column values alias the message being decoded.
type rowMessage struct {
	xid      uint32 // the (sub)transaction, inside a stream segment
	relation uint32
	oldKind  byte
	old, new []tupleColumn
}

// tupleColumn is one column of tuple data: kind is 'n' (NULL), 'u'
// (unchanged TOASTed value, not sent), 't' (text) or 'b' (binary).
type tupleColumn struct {
	kind byte
	data []byte
}

type truncateMessage struct {
	xid       uint32
	relations []uint32
}

type logicalMessage struct {
	xid           uint32
	transactional bool
	lsn           LSN
	prefix        string
	content       []byte // aliases the message being decoded
}

type streamStartMessage struct {
	xid   uint32
	first bool
}

type streamCommitMessage struct {
	xid               uint32
	commitLSN, endLSN LSN
	commitTime        time.Time
}

// streamAbortMessage is a Stream Abort. Under protocol 4 with streaming
// 'parallel' (PostgreSQL 16+) it also carries where and when the
// transaction aborted.
type streamAbortMessage struct {
	Xid    uint32
	SubXid uint32 // equals Xid when the whole transaction aborted
	// AbortLSN and AbortTime are zero unless the server sent them.
	AbortLSN  LSN
	AbortTime time.Time
}

// reader walks the fields of one message, recording the first field that
// does not fit; once it has, every read returns a zero value.
type reader struct {
	b   []byte
	err error
}

// ok reports whether every field read so far fit.
func (r *reader) ok() bool { return r.err == nil }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// next returns the next n bytes, or nil once a field did not fit.
func (r *reader) next(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("%s needs %d bytes, %d left", field, n, len(r.b))
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) u8(field string) byte {
	if b := r.next(1, field); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16(field string) uint16 {
	if b := r.next(2, field); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if b := r.next(4, field); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if b := r.next(8, field); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) lsn(field string) LSN { return LSN(r.u64(field)) }

// time reads a timestamp: microseconds since 2000-01-01 UTC.
func (r *reader) time(field string) time.Time {
	const unixAt2000 = 946684800
	micros := int64(r.u64(field))
	return time.Unix(unixAt2000+micros/1_000_000, micros%1_000_000*1000).UTC()
}

// cbytes reads a NUL-terminated string without copying it.
func (r *reader) cbytes(field string) []byte {
	if r.err != nil {
		return nil
	}
	end := bytes.IndexByte(r.b, 0)
	if end < 0 {
		r.fail("%s is not terminated", field)
		return nil
	}
	s := r.b[:end]
	r.b = r.b[end+1:]
	return s
}

func (r *reader) cstring(field string) string { return string(r.cbytes(field)) }

// xid reads the transaction id that messages carry inside a stream
// segment, and is 0 outside one.
func (r *reader) xid(inStream bool) uint32 {
	if !inStream {
		return 0
	}
	return r.u32("transaction id")
}

func (r *reader) begin() beginMessage {
	return beginMessage{finalLSN: r.lsn("begin final LSN"), commitTime: r.time("begin commit time"), xid: r.u32("begin transaction id")}
}

func (r *reader) commit() commitMessage {
	r.u8("commit flags")
	return commitMessage{commitLSN: r.lsn("commit LSN"), endLSN: r.lsn("commit end LSN"), commitTime: r.time("commit time")}
}

// origin reads an Origin message and returns the origin's name.
func (r *reader) origin() string {
	r.u64("origin LSN")
	return r.cstring("origin name")
}

func (r *reader) relation(inStream bool) (xid uint32, m relationMessage) {
	xid = r.xid(inStream)
	m.id = r.u32("relation OID")
	m.namespace = r.cstring("relation namespace")
	m.name = r.cstring("relation name")
	m.replicaIdentity = r.u8("replica identity")
	n := int(r.u16("column count"))
	for i := 0; i < n && r.ok(); i++ {
		c := relationColumn{flags: r.u8("column flags"), name: r.cstring("column name"), typeOID: r.u32("column type")}
		r.u32("column type modifier")
		m.columns = append(m.columns, c)
	}
	return xid, m
}

// typ reads a Type message, whose contents the decoder does not need.
func (r *reader) typ(inStream bool) {
	r.xid(inStream)
	r.u32("type OID")
	r.cbytes("type namespace")
	r.cbytes("type name")
}

// row reads an Insert (kind 'I'), Update ('U') or Delete ('D'): an insert
// has a new tuple ('N'), an update optionally an old one ('K' or 'O') and
// then a new one, a delete an old one only. old and new are reused for
// the tuples' columns.
func (r *reader) row(kind byte, inStream bool, old, new []tupleColumn) rowMessage {
	m := rowMessage{xid: r.xid(inStream), relation: r.u32("relation OID")}
	tk := r.u8("tuple kind")
	switch {
	case kind != 'I' && (tk == 'K' || tk == 'O'):
		m.oldKind = tk
		m.old = r.tuple(old)
		if kind == 'D' {
			return m
		}
		tk = r.u8("tuple kind")
	case kind == 'D':
		r.fail("unexpected old tuple kind %q", tk)
		return m
	}
	if tk != 'N' {
		r.fail("unexpected tuple kind %q", tk)
		return m
	}
	m.new = r.tuple(new)
	return m
}

// tuple reads tuple data into dst's array. Every column takes at least a
// byte, so a garbled column count cannot allocate more than the message
// holds.
func (r *reader) tuple(dst []tupleColumn) []tupleColumn {
	dst = dst[:0]
	n := int(r.u16("tuple column count"))
	for i := 0; i < n && r.ok(); i++ {
		switch kind := r.u8("column kind"); kind {
		case 'n', 'u':
			dst = append(dst, tupleColumn{kind: kind})
		case 't', 'b':
			data := r.next(int(r.u32("column length")), "column value")
			dst = append(dst, tupleColumn{kind: kind, data: data})
		default:
			r.fail("unknown column kind %q", kind)
		}
	}
	return dst
}

func (r *reader) truncate(inStream bool) truncateMessage {
	m := truncateMessage{xid: r.xid(inStream)}
	n := int(r.u32("relation count"))
	r.u8("truncate options")
	oids := r.next(4*n, "truncated relation OIDs")
	if oids == nil {
		return m
	}
	m.relations = make([]uint32, n)
	for i := range m.relations {
		m.relations[i] = binary.BigEndian.Uint32(oids[4*i:])
	}
	return m
}

func (r *reader) message(inStream bool) logicalMessage {
	m := logicalMessage{xid: r.xid(inStream)}
	m.transactional = r.u8("message flags")&1 != 0
	m.lsn = r.lsn("message LSN")
	m.prefix = r.cstring("message prefix")
	m.content = r.next(int(r.u32("message length")), "message content")
	return m
}

func (r *reader) streamStart() streamStartMessage {
	return streamStartMessage{xid: r.u32("stream start transaction id"), first: r.u8("stream start first segment") == 1}
}

func (r *reader) streamCommit() streamCommitMessage {
	m := streamCommitMessage{xid: r.u32("stream commit transaction id")}
	r.u8("stream commit flags")
	m.commitLSN, m.endLSN, m.commitTime = r.lsn("stream commit LSN"), r.lsn("stream commit end LSN"), r.time("stream commit time")
	return m
}

// streamAbort reads a Stream Abort; with abortInfo (protocol 4, streaming
// 'parallel') it carries the abort's LSN and time.
func (r *reader) streamAbort(abortInfo bool) streamAbortMessage {
	m := streamAbortMessage{Xid: r.u32("stream abort transaction id"), SubXid: r.u32("stream abort subtransaction id")}
	if abortInfo {
		if b := r.next(16, "stream abort LSN and time"); b != nil {
			sub := reader{b: b}
			m.AbortLSN, m.AbortTime = sub.lsn(""), sub.time("")
		}
	}
	return m
}
