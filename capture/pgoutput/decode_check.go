package pgoutput

import (
	"bytes"
	"errors"
	"fmt"
)

// checkFrame verifies that every field of a pgoutput message fits in data
// before pglogrepl parses it: its parsers index without bounds checks and
// size allocations from length fields, so a garbled length could otherwise
// panic or allocate gigabytes. Fields the protocol may append in later
// versions are allowed after the known ones.
//
// abortInfo says the stream was started with streaming 'parallel', under
// which a Stream Abort carries its LSN and time.
func checkFrame(data []byte, inStream, abortInfo bool) error {
	if len(data) == 0 {
		return errors.New("empty message")
	}
	r := &frameReader{b: data[1:]}
	switch data[0] {
	case 'B':
		r.skip(20, "begin")
	case 'C':
		r.skip(25, "commit")
	case 'O':
		r.skip(8, "origin LSN")
		r.cstring("origin name")
	case 'S':
		r.skip(5, "stream start")
	case 'E':
	case 'c':
		r.skip(29, "stream commit")
	case 'A':
		r.skip(8, "stream abort")
		if abortInfo {
			r.skip(16, "stream abort LSN and time")
		}
	case 'M':
		r.xid(inStream)
		r.message()
	case 'R':
		r.xid(inStream)
		r.relation()
	case 'Y':
		r.xid(inStream)
		r.skip(4, "type OID")
		r.cstring("type namespace")
		r.cstring("type name")
	case 'I', 'U', 'D':
		r.xid(inStream)
		r.skip(4, "relation OID")
		r.tuples(data[0])
	case 'T':
		r.xid(inStream)
		n := r.uint32("relation count")
		r.skip(1, "truncate options")
		r.skip(4*int(n), "truncated relation OIDs")
	default:
		return fmt.Errorf("unknown message type %q", data[0])
	}
	return r.err
}

// frameReader walks the fields of a message, recording the first field
// that does not fit.
type frameReader struct {
	b   []byte
	err error
}

func (r *frameReader) skip(n int, field string) {
	if r.err != nil {
		return
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%s needs %d bytes, %d left", field, n, len(r.b))
		return
	}
	r.b = r.b[n:]
}

// next returns the next n bytes, or nil once a field did not fit.
func (r *frameReader) next(n int, field string) []byte {
	b := r.b
	r.skip(n, field)
	if r.err != nil {
		return nil
	}
	return b[:n]
}

func (r *frameReader) byte(field string) byte {
	if b := r.next(1, field); b != nil {
		return b[0]
	}
	return 0
}

func (r *frameReader) uint16(field string) int {
	if b := r.next(2, field); b != nil {
		return int(b[0])<<8 | int(b[1])
	}
	return 0
}

func (r *frameReader) uint32(field string) int {
	if b := r.next(4, field); b != nil {
		return int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	}
	return 0
}

func (r *frameReader) cstring(field string) {
	if r.err != nil {
		return
	}
	end := bytes.IndexByte(r.b, 0)
	if end < 0 {
		r.err = fmt.Errorf("%s is not terminated", field)
		return
	}
	r.b = r.b[end+1:]
}

// xid skips the transaction id that messages carry inside a stream segment.
func (r *frameReader) xid(inStream bool) {
	if inStream {
		r.skip(4, "transaction id")
	}
}

func (r *frameReader) message() {
	r.skip(1+8, "message flags and LSN")
	r.cstring("message prefix")
	r.skip(r.uint32("message length"), "message content")
}

func (r *frameReader) relation() {
	r.skip(4, "relation OID")
	r.cstring("relation namespace")
	r.cstring("relation name")
	r.skip(1, "replica identity")
	n := r.uint16("column count")
	for i := 0; i < n && r.err == nil; i++ {
		r.skip(1, "column flags")
		r.cstring("column name")
		r.skip(8, "column type")
	}
}

// tuples checks the tuple data of an insert ('N'), an update (optionally
// 'K' or 'O', then 'N') or a delete ('K' or 'O').
func (r *frameReader) tuples(op byte) {
	kind := r.byte("tuple kind")
	switch {
	case op != 'I' && (kind == 'K' || kind == 'O'):
		r.tuple()
		if op == 'D' {
			return
		}
		kind = r.byte("tuple kind")
	case op == 'D' && r.err == nil:
		r.err = fmt.Errorf("unexpected old tuple kind %q", kind)
		return
	}
	if kind != 'N' && r.err == nil {
		r.err = fmt.Errorf("unexpected tuple kind %q", kind)
		return
	}
	r.tuple()
}

func (r *frameReader) tuple() {
	n := r.uint16("tuple column count")
	for i := 0; i < n && r.err == nil; i++ {
		switch kind := r.byte("column kind"); kind {
		case 'n', 'u':
		case 't', 'b':
			r.skip(r.uint32("column length"), "column value")
		default:
			if r.err == nil {
				r.err = fmt.Errorf("unknown column kind %q", kind)
			}
		}
	}
}
