package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// sources fills cfg.Sources and keeps the order the file declares them in.
func (l *loader) sources(root *yaml.Node, decoded map[string]Source, cfg *Config) {
	n := valueOf(root, "sources")
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name := n.Content[i].Value
		if _, seen := cfg.Sources[name]; seen {
			continue // the decoder has reported the duplicate key
		}
		path := "sources." + name
		src := decoded[name]
		src.Name = name
		if _, ok := l.positions[path+".slot"]; !ok {
			src.Slot = "projector_" + name
		}
		if _, ok := l.positions[path+".publication"]; !ok {
			src.Publication = "projector_" + name
		}
		if _, ok := l.positions[path+".publication_mode"]; !ok {
			src.PublicationMode = PublicationManaged
		}
		if _, ok := l.positions[path+".snapshot.mode"]; !ok {
			src.Snapshot.Mode = SnapshotAuto
		}
		if _, ok := l.positions[path+".snapshot.chunk_rows"]; !ok {
			src.Snapshot.ChunkRows = DefaultChunkRows
		}
		l.sourcePassword(&src, path)
		src.Events = eventDefaults(src.Events)
		cfg.Sources[name] = src
		cfg.SourceNames = append(cfg.SourceNames, name)
	}
}

// valueOf returns the value of key in mapping n, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

// view converts a view as written into its single internal form.
func (l *loader) view(rv rawView, path string) View {
	v := View{
		Name:     rv.Name,
		Root:     l.tableRef(rv.Root, path+".root"),
		Numeric:  rv.Numeric,
		JSON:     rv.JSON,
		Settings: rv.Settings,
		Pos:      l.positions[path],
	}
	v.Fields, v.AllColumns = l.fields(&rv.Fields, path+".fields")
	v.Relations = l.relations(rv.Relations, path)
	return v
}

// relations converts the relations nested under the node at path.
func (l *loader) relations(raw []rawRelation, path string) []Relation {
	var out []Relation
	for i, rr := range raw {
		p := path + ".relations[" + itoa(i) + "]"
		r := Relation{
			Name:      rr.Name,
			Type:      rr.Type,
			Table:     l.tableRef(rr.Table, p),
			On:        l.joinPairs(&rr.On, p+".on"),
			Relations: l.relations(rr.Relations, p),
			Pos:       l.positions[p],
		}
		r.Fields, r.AllColumns = l.fields(&rr.Fields, p+".fields")
		out = append(out, r)
	}
	return out
}

// tableRef applies the public schema, or the one written as "schema.table"
// when no schema key is given. A schema written empty stays empty, for
// Validate to report.
func (l *loader) tableRef(t rawTable, path string) TableRef {
	if t.Entity != "" {
		return l.entityRef(t, path)
	}
	ref := TableRef{Source: t.Source, Schema: t.Schema, Name: t.Table}
	if _, written := l.positions[path+".schema"]; written {
		return ref
	}
	ref.Schema = "public"
	if schema, name, ok := strings.Cut(t.Table, "."); ok {
		ref.Schema, ref.Name = schema, name
	}
	return ref
}

// fields reads a list of columns, which keep their names, or a map of
// column: field name. An absent or null value means every column.
func (l *loader) fields(n *yaml.Node, path string) ([]Field, bool) {
	n = resolve(n)
	switch {
	case n.Kind == 0 || n.ShortTag() == "!!null":
		return nil, true
	case n.Kind == yaml.SequenceNode:
		out := make([]Field, 0, len(n.Content))
		for i, item := range n.Content {
			if item = resolve(item); item.Kind != yaml.ScalarNode {
				l.errs = append(l.errs, l.pos(item).Errorf("%s[%d]: is %s; write a column name", path, i, describe(item)))
				continue
			}
			out = append(out, Field{Column: item.Value, Name: item.Value, Pos: l.pos(item)})
		}
		return out, false
	case n.Kind == yaml.MappingNode:
		out := make([]Field, 0, len(n.Content)/2)
		for _, p := range l.pairs(n, path, "column") {
			out = append(out, Field{Column: p.key.Value, Name: p.value.Value, Pos: l.pos(p.key)})
		}
		return out, false
	}
	l.errs = append(l.errs, l.pos(n).Errorf("%s: is %s; write a list of columns, or a map of column: field name", path, describe(n)))
	return nil, false
}

// joinPairs reads "on", a map of parent column: related column.
func (l *loader) joinPairs(n *yaml.Node, path string) []JoinPair {
	n = resolve(n)
	switch {
	case n.Kind == 0 || n.ShortTag() == "!!null":
		return nil
	case n.Kind == yaml.MappingNode:
		out := make([]JoinPair, 0, len(n.Content)/2)
		for _, p := range l.pairs(n, path, "parent column") {
			out = append(out, JoinPair{Parent: p.key.Value, Related: p.value.Value, Pos: l.pos(p.key)})
		}
		return out
	}
	l.errs = append(l.errs, l.pos(n).Errorf("%s: is %s; write a map of parent column: related column, e.g. { consumer_id: id }", path, describe(n)))
	return nil
}

// pair is one key: value entry of a mapping of names.
type pair struct{ key, value *yaml.Node }

// pairs returns the scalar entries of a mapping decoded by hand, reporting
// the duplicates and non-scalar entries the decoder would have caught.
func (l *loader) pairs(n *yaml.Node, path, what string) []pair {
	var out []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		switch {
		case k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode:
			l.errs = append(l.errs, l.pos(k).Errorf("%s: each entry must map a name to a name, not %s to %s", path, describe(k), describe(v)))
		case seen[k.Value] != nil:
			l.errs = append(l.errs, l.pos(k).Errorf("%s: %s %q is already listed at line %d; list it once", path, what, k.Value, seen[k.Value].Line))
		default:
			seen[k.Value] = k
			out = append(out, pair{key: k, value: v})
		}
	}
	return out
}
