package config

import (
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var nodeType = reflect.TypeFor[yaml.Node]()

// mergeKey is a mapping merged with "<<" into a value of a type.
type mergeKey struct {
	node *yaml.Node
	t    reflect.Type
}

// checkKeys reports every mapping key that the Go type it decodes into does
// not declare, listing the keys that are accepted at that place. yaml.v3's
// own KnownFields does the same for a decoder but names neither the place
// nor the alternatives.
func (l *loader) checkKeys(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nodeType:
		// Decoded by hand, which checks its own shape.
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		l.checkStruct(n, t, path)
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			l.checkKeys(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value))
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			l.checkKeys(item, t.Elem(), path+"["+itoa(i)+"]")
		}
	}
}

// checkStruct checks the keys of a mapping decoded into struct type t.
func (l *loader) checkStruct(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" {
			l.checkMerge(resolve(v), t, path)
			continue
		}
		ft, ok := fields[k.Value]
		if !ok {
			l.errs = append(l.errs, l.unknownKey(k, path, fields))
			continue
		}
		l.checkKeys(v, ft, joinPath(path, k.Value))
	}
}

// checkMerge checks the mappings merged in with "<<", which yaml.v3 decodes
// as if written in place. Each merged mapping is checked once per type, so
// a mapping that merges itself cannot loop.
func (l *loader) checkMerge(v *yaml.Node, t reflect.Type, path string) {
	key := mergeKey{v, t}
	if l.merged[key] {
		return
	}
	l.merged[key] = true
	if v.Kind == yaml.SequenceNode {
		for _, item := range v.Content {
			l.checkMerge(resolve(item), t, path)
		}
		return
	}
	if v.Kind == yaml.MappingNode {
		l.checkStruct(v, t, path)
	}
}

func (l *loader) unknownKey(k *yaml.Node, path string, fields map[string]reflect.Type) error {
	valid := make([]string, 0, len(fields))
	for name := range fields {
		valid = append(valid, name)
	}
	slices.Sort(valid)
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	if s := suggestKey(k.Value, valid); s != "" {
		return l.pos(k).Errorf("unknown key %q %s; did you mean %q? Valid keys there are %s", k.Value, where, s, strings.Join(valid, ", "))
	}
	return l.pos(k).Errorf("unknown key %q %s; valid keys there are %s", k.Value, where, strings.Join(valid, ", "))
}

// yamlFields maps the YAML keys of struct type t, inline ones included, to
// the types their values decode into.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !f.IsExported():
		case strings.Contains(opts, "inline"):
			for k, ft := range yamlFields(f.Type) {
				out[k] = ft
			}
		case name == "":
			out[strings.ToLower(f.Name)] = f.Type
		default:
			out[name] = f.Type
		}
	}
	return out
}
