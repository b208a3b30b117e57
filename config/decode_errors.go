package config

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	syntaxLine   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	decodeLine   = regexp.MustCompile(`^line (\d+)(?:, column (\d+))?: (.*)$`)
	cannotDecode = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
)

// syntaxError puts the file name and line in front of a YAML syntax error.
func (l *loader) syntaxError(data []byte, err error) error {
	if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Pos{File: l.file, Line: syntaxErrorLine(data, line, m[2])}.Errorf("invalid YAML: %s", m[2])
	}
	return Pos{File: l.file}.Errorf("invalid YAML: %w", err)
}

// syntaxErrorLine corrects the line yaml.v3 reports: its parser errors
// ("did not find expected ...") count lines from zero, and a tab in the
// indentation is reported where the enclosing block starts, not where the
// tab is.
func syntaxErrorLine(data []byte, line int, msg string) int {
	switch {
	case strings.HasPrefix(msg, "did not find expected"):
		return line + 1
	case strings.Contains(msg, "tab character"):
		for i, text := range strings.Split(string(data), "\n") {
			indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
			if i+1 >= line && strings.Contains(indent, "\t") {
				return i + 1
			}
		}
	}
	return line
}

// decodeError records each of the decoder's problems against the value it
// is about, with that value's position and key path. yaml.v3's own messages
// give only a line, so the value is found among those written on it by its
// kind and text; projector's own types (Duration, ByteSize) also give the
// column, which singles it out.
func (l *loader) decodeError(err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		l.errs = append(l.errs, Pos{File: l.file}.Errorf("decode: %w", err))
		return
	}
	// The same message may be about several values on one line, as in
	// { shards: x, replicas: x }: the decoder reports them in file order.
	repeats, seen := map[string]int{}, map[string]int{}
	for _, msg := range te.Errors {
		repeats[msg]++
	}
	for _, msg := range te.Errors {
		m := decodeLine.FindStringSubmatch(msg)
		if m == nil {
			l.errs = append(l.errs, Pos{File: l.file}.Errorf("%s", msg))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		found := l.valuesAt(line, col, m[3])
		nth := seen[msg]
		seen[msg]++
		switch {
		case len(found) == 1:
			l.errs = append(l.errs, found[0].pos.Errorf("%s: %s", found[0].path, plainDecodeMessage(m[3])))
		case len(found) == repeats[msg]:
			l.errs = append(l.errs, found[nth].pos.Errorf("%s: %s", found[nth].path, plainDecodeMessage(m[3])))
		default:
			l.errs = append(l.errs, Pos{File: l.file, Line: line, Column: col}.Errorf("%s", plainDecodeMessage(m[3])))
		}
	}
}

// valuesAt returns, in file order, the values on line that a decoder
// message may be about: the one at col when the message gives a column,
// else those of the kind and text the message names.
func (l *loader) valuesAt(line, col int, msg string) []value {
	match := func(v value) bool { return v.pos.Column == col }
	if col == 0 {
		match = func(value) bool { return true }
		if m := cannotDecode.FindStringSubmatch(msg); m != nil {
			match = matchDecoded(m[1], m[2])
		}
	}
	var found []value
	for _, v := range l.values[line] {
		if match(v) {
			found = append(found, v)
		}
	}
	slices.SortFunc(found, func(a, b value) int { return a.pos.Column - b.pos.Column })
	return found
}

// matchDecoded returns whether a value is the one a "cannot unmarshal"
// message describes by its tag and, for a scalar, its text, which yaml.v3
// cuts to seven characters and "..." past ten.
func matchDecoded(tag, text string) func(value) bool {
	switch tag {
	case "seq":
		return func(v value) bool { return v.kind == yaml.SequenceNode }
	case "map":
		return func(v value) bool { return v.kind == yaml.MappingNode }
	}
	return func(v value) bool {
		if v.kind != yaml.ScalarNode {
			return false
		}
		if prefix, cut := strings.CutSuffix(text, "..."); cut && len(v.text) > 10 {
			return strings.HasPrefix(v.text, prefix)
		}
		return v.text == text
	}
}

// plainDecodeMessage rewrites the decoder's Go-typed wording, which names
// types the operator never sees, into what to write instead.
func plainDecodeMessage(msg string) string {
	m := cannotDecode.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	value := yamlKind(m[1], m[2])
	switch into := m[3]; {
	case into == "int":
		return value + " is not a whole number; write digits only, e.g. 1000"
	case into == "bool":
		return value + " is not a boolean; write true or false"
	case strings.HasPrefix(into, "[]"):
		return "is " + value + "; write a list, e.g. [a, b]"
	case strings.HasPrefix(into, "config.") || strings.HasPrefix(into, "map["):
		return "is " + value + "; write a map of keys, e.g. { key: value }"
	case into == "string":
		return "is " + value + "; write a single value"
	}
	return msg
}

// yamlKind names a value in the decoder's message: scalars by their text,
// lists and maps by their kind.
func yamlKind(kind, value string) string {
	switch kind {
	case "seq":
		return "a list"
	case "map":
		return "a map"
	}
	return strconv.Quote(value)
}
