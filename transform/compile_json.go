package transform

import (
	"maps"
	"slices"

	"github.com/projector-dev/projector/config"
)

// jsonModes checks that every field the view's json key lists is a json or
// jsonb field of the document, and returns the modes by field path.
func (c *compiler) jsonModes(cv config.View, root *Node) map[string]string {
	known := map[string]bool{}
	c.jsonFields(root, "", known)
	out := make(map[string]string, len(cv.JSON))
	for _, field := range slices.Sorted(maps.Keys(cv.JSON)) {
		if !known[field] {
			c.fail(cv.Pos.Errorf("json lists %q, which is not a json or jsonb field of view %q; name a document field path such as payload or customer.prefs", field, cv.Name))
			continue
		}
		out[field] = string(cv.JSON[field])
	}
	return out
}

// jsonFields records the document paths of the json and jsonb fields of
// node n, whose own path is prefix.
func (c *compiler) jsonFields(n *Node, prefix string, known map[string]bool) {
	info := c.schema[n.Source][n.Table]
	isJSON := func(col string) bool {
		cc, ok := info.Column(col)
		return ok && (cc.Base == "json" || cc.Base == "jsonb")
	}
	if n.AllFields {
		for _, col := range info.Columns {
			known[prefix+col.Name] = isJSON(col.Name)
		}
	}
	for _, f := range n.Fields {
		known[prefix+f.Name] = isJSON(f.Column)
	}
	for _, child := range n.Children {
		c.jsonFields(child, prefix+child.Name+".", known)
	}
}
