package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
)

// viewMapping derives a view's index mappings from the column types of its
// tables, and a fingerprint that changes whenever the documents' shape
// does: a new fingerprint means a new index version.
func viewMapping(v *transform.View, schema transform.Schema, flavour sink.Flavour) (map[string]any, string) {
	opts := sink.ColumnOptions{Numeric: sink.NumericAsKeyword}
	if v.NumericAsNumber {
		opts.Numeric = sink.NumericAsDouble
	}
	fields := nodeFields(v.Root, schema, opts, v.JSON, "")
	mapping := sink.Mapping(fields, flavour)
	// A document whose _id is a hash of its key keeps the key here;
	// exact matches find it.
	mapping["properties"].(map[string]any)[transform.KeyField] = map[string]any{"type": "keyword", "ignore_above": 8191}
	// The id scheme is part of the shape: ids it changes must not leave
	// the documents under their old ids behind in the same index.
	shape, _ := json.Marshal(struct {
		Fields   []sink.Field
		Numeric  bool
		IDScheme int `json:",omitempty"`
	}{fields, v.NumericAsNumber, transform.DocIDScheme}) // marshalling plain structs cannot fail
	sum := sha256.Sum256(shape)
	fingerprint := hex.EncodeToString(sum[:8])
	mapping["_meta"] = map[string]any{"projector": map[string]any{"view": v.Name, "fingerprint": fingerprint}}
	return mapping, fingerprint
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
