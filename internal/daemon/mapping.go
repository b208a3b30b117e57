package daemon

import (
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
)

// viewShape describes a compiled view's documents to the sink, which
// derives the index mapping and its fingerprint from it (sink.ViewMapping).
func viewShape(v *transform.View, schema transform.Schema) sink.ViewShape {
	opts := sink.ColumnOptions{Numeric: sink.NumericAsKeyword}
	if v.NumericAsNumber {
		opts.Numeric = sink.NumericAsDouble
	}
	return sink.ViewShape{
		View:            v.Name,
		Fields:          nodeFields(v.Root, schema, opts, v.JSON, ""),
		NumericAsNumber: v.NumericAsNumber,
		IDScheme:        transform.DocIDScheme,
		KeyField:        transform.KeyField,
	}
}

// nodeFields lists the fields of node n's part of the document, whose
// path in the document is prefix ("" at the root, "customer." below).
func nodeFields(n *transform.Node, schema transform.Schema, opts sink.ColumnOptions, jsonModes map[string]string, prefix string) []sink.Field {
	info := schema[n.Source][n.Table]
	field := func(name, base string) sink.Field {
		o := opts
		o.JSON = sink.JSONMapping(jsonModes[prefix+name]) // stored when not listed
		return sink.Field{Name: name, Type: sink.ColumnType(base, o)}
	}
	var out []sink.Field
	if n.AllFields {
		for _, c := range info.Columns {
			out = append(out, field(c.Name, c.Base))
		}
	}
	for _, f := range n.Fields {
		c, _ := info.Column(f.Column) // Compile checked that it exists
		out = append(out, field(f.Name, c.Base))
	}
	for _, child := range n.Children {
		out = append(out, sink.Field{
			Name:   child.Name,
			Type:   sink.RelationType(string(child.Kind)),
			Fields: nodeFields(child, schema, opts, jsonModes, prefix+child.Name+"."),
		})
	}
	return out
}
