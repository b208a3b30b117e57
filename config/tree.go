package config

import (
	"strconv"

	"gopkg.in/yaml.v3"
)

// visit records where every key and list item was written and expands
// environment references in every value. Aliases are not followed: their
// anchor is visited where it is written.
func (l *loader) visit(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			l.positions[p] = l.pos(k)
			l.visit(v, p)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := path + "[" + itoa(i) + "]"
			l.positions[p] = l.pos(item)
			l.visit(item, p)
		}
	case yaml.ScalarNode:
		l.expandScalar(n, path)
	}
	if path != "" {
		l.values[n.Line] = append(l.values[n.Line], value{path: path, kind: n.Kind, text: n.Value, pos: l.pos(n)})
	}
}

// expandScalar substitutes environment references in one value. A plain
// (unquoted) value is typed again after substitution, so that
// "bulk_actions: ${BULK}" is a number; a quoted one stays a string, and so
// does a value that became empty or "null" rather than turning into nothing.
func (l *loader) expandScalar(n *yaml.Node, path string) {
	v, err := expand(n.Value, l.lookup)
	if err != nil {
		l.errs = append(l.errs, l.pos(n).Errorf("%s: %w", path, err))
		return
	}
	if v == n.Value {
		return
	}
	n.Value = v
	if n.Style == 0 && !isNullWord(v) {
		n.Tag = ""
	}
}

// isNullWord reports whether YAML would read a plain value as null.
func isNullWord(s string) bool {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// joinPath appends a key to a YAML path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func itoa(i int) string { return strconv.Itoa(i) }
