package pgoutput

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// decodeText keeps a value as its PostgreSQL text. In the binary format,
// an enum's bytes are its label, a type pgx knows is printed the way the
// server would print it, and any other type is kept as its bytes: there is
// no text to recover without the server.
func (c *Values[N]) decodeText(v *valueDecoder, format int16, src []byte) (any, error) {
	if format == pgtype.TextFormatCode || v.binaryText {
		return string(src), nil
	}
	t, ok := c.pg.TypeForOID(v.oid)
	if !ok {
		return bytes.Clone(src), nil
	}
	val, err := t.Codec.DecodeValue(c.pg, v.oid, format, src)
	if err != nil {
		return nil, fmt.Errorf("decode %s value: %w", t.Name, err)
	}
	if p, ok := val.(netip.Prefix); ok && v.oid == pgtype.InetOID && p.IsSingleIP() {
		return p.Addr().String(), nil // PostgreSQL leaves out a host's full netmask
	}
	text, err := c.pg.Encode(v.oid, pgtype.TextFormatCode, val, nil)
	if err != nil {
		return nil, fmt.Errorf("print %s value: %w", t.Name, err)
	}
	return string(text), nil
}

// exactText keeps the server's text of kinds whose Go value is that text.
func exactText[N ~string](k valueKind, src []byte) any {
	if k == numericValue {
		return N(src)
	}
	return string(src)
}

// fallback decodes text forms that the server prints under some settings
// and pgx does not read: timestamps in zones whose offset had seconds
// (local mean time before 1900, e.g. "+00:19:32") and bytea under
// bytea_output = escape.
func fallback(k valueKind, format int16, src []byte) (any, bool) {
	if format != pgtype.TextFormatCode {
		return nil, false
	}
	switch k {
	case timestamptzValue:
		t, err := time.Parse("2006-01-02 15:04:05-07:00:00", string(src))
		return t.UTC(), err == nil
	case byteaValue:
		return unescapeBytea(src)
	}
	return nil, false
}

// unescapeBytea reads bytea's escape format: "\\" is a backslash, "\ooo"
// an octal byte, and every other byte stands for itself.
func unescapeBytea(src []byte) ([]byte, bool) {
	out := make([]byte, 0, len(src))
	for i := 0; i < len(src); i++ {
		if src[i] != '\\' {
			out = append(out, src[i])
			continue
		}
		switch {
		case i+1 < len(src) && src[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(src) && isOctal(src[i+1]) && isOctal(src[i+2]) && isOctal(src[i+3]) && src[i+1] <= '3':
			out = append(out, (src[i+1]-'0')<<6|(src[i+2]-'0')<<3|(src[i+3]-'0'))
			i += 3
		default:
			return nil, false
		}
	}
	return out, true
}

func isOctal(b byte) bool { return b >= '0' && b <= '7' }
