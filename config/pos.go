package config

import (
	"fmt"
	"strconv"
)

// Pos is where something was written in the configuration file. Problems
// that only a live server can reveal (a missing table, a join key of the
// wrong type) are reported against it, so the operator is sent to the line
// to fix rather than left to search the file.
type Pos struct {
	File   string
	Line   int
	Column int
}

// String returns "file:line:col", dropping the parts that are unknown, so a
// Config built in code yields an empty string.
func (p Pos) String() string {
	s := p.File
	if p.Line > 0 {
		if s != "" {
			s += ":"
		}
		s += strconv.Itoa(p.Line)
		if p.Column > 0 {
			s += ":" + strconv.Itoa(p.Column)
		}
	}
	return s
}

// Errorf formats an error prefixed with the position, in the
// "file:line:col: message" form editors and terminals turn into links. It
// wraps like fmt.Errorf, so %w keeps the cause inspectable.
func (p Pos) Errorf(format string, args ...any) error {
	s := p.String()
	if s == "" {
		return fmt.Errorf(format, args...)
	}
	return fmt.Errorf("%s: "+format, append([]any{s}, args...)...)
}
