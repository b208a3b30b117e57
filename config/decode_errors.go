package config

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	syntaxLine   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	decodeLine   = regexp.MustCompile(`^line (\d+): (.*)$`)
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

// decodeError records each of the decoder's problems against its line, and
// names the key when only one value is written on that line.
func (l *loader) decodeError(err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		l.errs = append(l.errs, Pos{File: l.file}.Errorf("decode: %w", err))
		return
	}
	for _, msg := range te.Errors {
		m := decodeLine.FindStringSubmatch(msg)
		if m == nil {
			l.errs = append(l.errs, Pos{File: l.file}.Errorf("%s", msg))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		if v, ok := l.valueAt(line, m[2]); ok {
			l.errs = append(l.errs, v.pos.Errorf("%s: %s", v.path, plainDecodeMessage(m[2])))
			continue
		}
		l.errs = append(l.errs, Pos{File: l.file, Line: line}.Errorf("%s", plainDecodeMessage(m[2])))
	}
}

// valueAt finds the one value on line that a decoder message is about,
// telling lists and maps from scalars when the message names its kind.
func (l *loader) valueAt(line int, msg string) (value, bool) {
	kind := yaml.Kind(0)
	if m := cannotDecode.FindStringSubmatch(msg); m != nil {
		kind = map[string]yaml.Kind{"seq": yaml.SequenceNode, "map": yaml.MappingNode}[m[1]]
		if kind == 0 {
			kind = yaml.ScalarNode
		}
	}
	var found []value
	for _, v := range l.values[line] {
		if kind == 0 || v.kind == kind {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		return value{}, false
	}
	return found[0], true
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
