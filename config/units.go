package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in the file as a Go duration string
// ("10s", "1m30s", "500ms"). A bare number is refused because its unit would
// be a guess.
type Duration time.Duration

// String formats the duration the way the file accepts it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes the duration as the file accepts it, without the zero
// units Go adds ("1m", not "1m0s").
func (d Duration) MarshalYAML() (any, error) { return d.short(), nil }

// short is String without trailing zero units.
func (d Duration) short() string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// UnmarshalYAML parses a Go duration string; anything else is an error, never
// a silent default.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return typeError(n, "%s is not a duration; write it like 10s, 1m30s or 500ms", describe(n))
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a number of bytes, written as a plain number or with a unit:
// "5MiB" is 5×1024×1024 bytes and "5MB" is 5,000,000 bytes.
type ByteSize int64

// String formats the size with binary units, e.g. "5.0 MiB".
func (b ByteSize) String() string {
	if b < 0 {
		return strconv.FormatInt(int64(b), 10) + " B"
	}
	return humanize.IBytes(uint64(b))
}

// MarshalYAML writes the size with the largest binary unit that divides it
// ("5MiB"), or as a number of bytes.
func (b ByteSize) MarshalYAML() (any, error) {
	if b > 0 {
		for _, u := range []struct {
			name string
			size ByteSize
		}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if b%u.size == 0 {
				return strconv.FormatInt(int64(b/u.size), 10) + u.name, nil
			}
		}
	}
	return int64(b), nil
}

// UnmarshalYAML accepts an integer (negative ones too, so that Validate can
// name the problem) or a size with a decimal or binary unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if v, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			*b = ByteSize(v)
			return nil
		}
		// go-humanize knows both the SI and the IEC units, in any case.
		if v, err := humanize.ParseBytes(n.Value); err == nil && v <= math.MaxInt64 {
			*b = ByteSize(v)
			return nil
		}
	}
	return typeError(n, "%s is not a size; write it like 5MiB, 5MB or 5242880", describe(n))
}

// typeError reports a value that cannot be decoded in the form yaml.v3 uses
// for its own, so decoding goes on and every such problem is reported at
// once. Unlike yaml.v3's messages it names the column too, so the loader can
// tell which of several values on one line is meant.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d, column %d: ", n.Line, n.Column) + fmt.Sprintf(format, args...)}}
}

// describe names a node's value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "this value"
	}
}
