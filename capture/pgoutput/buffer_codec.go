package pgoutput

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// ChangeCodecVersion is the version of the binary form AppendChange
// writes. A reader refuses any other: a spilled change is only ever read
// back by the process that wrote it, but a format that cannot be told
// apart from another must not be guessed at.
const ChangeCodecVersion = 1

// The tags of a value's type in the binary form of a change.
const (
	tagNil byte = iota
	tagInt
	tagFloat
	tagFalse
	tagTrue
	tagString
	tagNumeric
	tagTime
	tagBytes
	tagJSON
	tagArray
)

// AppendChange appends the binary form of c, made by the (sub)transaction
// xid, to dst: a compact form for a change to wait on disk in, read back
// by a ChangeCodec of the same N. Values must be of the types a Row holds
// (see Row); any other is an error.
func AppendChange[N ~string](dst []byte, xid uint32, c *Change) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(xid))
	dst = append(dst, opCode(c.Op))
	dst = appendString(dst, c.Table.Schema)
	dst = appendString(dst, c.Table.Name)
	dst = appendStrings(dst, c.Key)
	var err error
	if dst, err = appendRow[N](dst, c.Old); err != nil {
		return nil, err
	}
	if dst, err = appendRow[N](dst, c.New); err != nil {
		return nil, err
	}
	return appendStrings(dst, c.Unchanged), nil
}

func opCode(op Op) byte {
	switch op {
	case Insert:
		return 'I'
	case Update:
		return 'U'
	case Delete:
		return 'D'
	default:
		return 'T'
	}
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendStrings writes nil and empty lists apart: a change's Key and
// Unchanged read back as they were.
func appendStrings(dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(ss))+1)
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return dst
}

func appendRow[N ~string](dst []byte, r Row) ([]byte, error) {
	if r == nil {
		return append(dst, 0), nil
	}
	dst = binary.AppendUvarint(dst, uint64(len(r))+1)
	var err error
	for k, v := range r {
		dst = appendString(dst, k)
		if dst, err = appendValue[N](dst, v); err != nil {
			return nil, fmt.Errorf("column %s: %w", k, err)
		}
	}
	return dst, nil
}

func appendValue[N ~string](dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, tagNil), nil
	case int64:
		return binary.AppendVarint(append(dst, tagInt), v), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(dst, tagFloat), math.Float64bits(v)), nil
	case bool:
		if v {
			return append(dst, tagTrue), nil
		}
		return append(dst, tagFalse), nil
	case string:
		return appendString(append(dst, tagString), v), nil
	case N:
		return appendString(append(dst, tagNumeric), string(v)), nil
	case time.Time:
		b, err := v.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode time %s: %w", v, err)
		}
		dst = binary.AppendUvarint(append(dst, tagTime), uint64(len(b)))
		return append(dst, b...), nil
	case json.RawMessage:
		dst = binary.AppendUvarint(append(dst, tagJSON), uint64(len(v)))
		return append(dst, v...), nil
	case []byte:
		dst = binary.AppendUvarint(append(dst, tagBytes), uint64(len(v)))
		return append(dst, v...), nil
	case []any:
		dst = binary.AppendUvarint(append(dst, tagArray), uint64(len(v)))
		var err error
		for _, e := range v {
			if dst, err = appendValue[N](dst, e); err != nil {
				return nil, err
			}
		}
		return dst, nil
	default:
		return nil, fmt.Errorf("a value of type %T has no binary form", v)
	}
}

// ChangeCodec reads back changes AppendChange wrote. It shares the
// strings that repeat from one change to the next (table and column
// names, key lists) instead of allocating them for every change, so it
// keeps those of the changes it read: use one per transaction.
type ChangeCodec[N ~string] struct {
	names map[string]string
	keys  map[string][]string
}

// errShort is a change cut short: a file written only in part.
var errShort = errors.New("change cut short")

// Read decodes the change that b holds, whole, and the (sub)transaction
// that made it.
func (c *ChangeCodec[N]) Read(b []byte) (xid uint32, ch Change, err error) {
	if c.names == nil {
		c.names, c.keys = map[string]string{}, map[string][]string{}
	}
	r := codecReader{b: b}
	xid = uint32(r.uvarint())
	switch r.byte() {
	case 'I':
		ch.Op = Insert
	case 'U':
		ch.Op = Update
	case 'D':
		ch.Op = Delete
	case 'T':
		ch.Op = Truncate
	default:
		r.fail()
	}
	ch.Table.Schema = c.name(r.bytes())
	ch.Table.Name = c.name(r.bytes())
	ch.Key = c.key(&r)
	ch.Old = readRow[N](c, &r)
	ch.New = readRow[N](c, &r)
	ch.Unchanged = c.strings(&r)
	switch {
	case r.err != nil:
		return 0, Change{}, r.err
	case len(r.b) != 0:
		return 0, Change{}, fmt.Errorf("%d bytes left over after a change", len(r.b))
	}
	return xid, ch, nil
}

// name returns b as a string shared with every earlier equal name.
func (c *ChangeCodec[N]) name(b []byte) string {
	if s, ok := c.names[string(b)]; ok {
		return s
	}
	s := string(b)
	c.names[s] = s
	return s
}

// key reads a list of key columns, shared by every change with the same
// list as Change.Key is.
func (c *ChangeCodec[N]) key(r *codecReader) []string {
	start := r.b
	list := c.strings(r)
	if list == nil || r.err != nil {
		return list
	}
	raw := start[:len(start)-len(r.b)]
	if k, ok := c.keys[string(raw)]; ok {
		return k
	}
	c.keys[string(raw)] = list
	return list
}

func (c *ChangeCodec[N]) strings(r *codecReader) []string {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return nil
	}
	n--
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = c.name(r.bytes())
	}
	return ss
}

func readRow[N ~string](c *ChangeCodec[N], r *codecReader) Row {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return nil
	}
	n--
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	row := make(Row, n)
	for range n {
		k := c.name(r.bytes())
		row[k] = readValue[N](r, 0)
		if r.err != nil {
			return nil
		}
	}
	return row
}

// maxArrayDepth bounds nesting, as PostgreSQL's arrays are (MAXDIM).
const maxArrayDepth = 6

func readValue[N ~string](r *codecReader, depth int) any {
	switch tag := r.byte(); tag {
	case tagNil:
		return nil
	case tagInt:
		return r.varint()
	case tagFloat:
		b := r.take(8)
		if b == nil {
			return nil
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagString:
		return string(r.bytes())
	case tagNumeric:
		return N(r.bytes())
	case tagTime:
		var t time.Time
		if err := t.UnmarshalBinary(r.bytes()); err != nil {
			r.fail()
		}
		return t
	case tagJSON:
		return json.RawMessage(append([]byte(nil), r.bytes()...))
	case tagBytes:
		return append([]byte{}, r.bytes()...)
	case tagArray:
		n := r.uvarint()
		if depth >= maxArrayDepth || n > uint64(len(r.b)) {
			r.fail()
			return nil
		}
		a := make([]any, n)
		for i := range a {
			a[i] = readValue[N](r, depth+1)
		}
		return a
	default:
		r.fail()
		return nil
	}
}

// codecReader reads the binary form of a change; the first error sticks.
type codecReader struct {
	b   []byte
	err error
}

func (r *codecReader) fail() {
	if r.err == nil {
		r.err = errShort
	}
	r.b = nil
}

func (r *codecReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *codecReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *codecReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *codecReader) take(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// bytes reads a length-prefixed run of bytes, which aliases the input.
func (r *codecReader) bytes() []byte { return r.take(r.uvarint()) }
