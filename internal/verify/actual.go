package verify

import (
	"encoding/json"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform"
)

// canonDoc normalises a document read from the index by the view's shape,
// the same way the expected documents are normalised. Fields the view does
// not define are kept, so they show up as drift. With ordered, has_many
// arrays keep the document's order, so that a difference can be named by
// its position in the indexed document; otherwise they are sorted, so that
// they compare as sets.
func canonDoc(n *node, src map[string]any, ordered bool) map[string]any {
	m := make(map[string]any, len(src))
	for k, v := range src {
		m[k] = canonField(n, k, v, ordered)
	}
	return m
}

func canonField(n *node, name string, v any, ordered bool) any {
	for _, f := range n.Fields {
		if f.Name == name {
			return canon(f.Type, v)
		}
	}
	for _, c := range n.Children {
		if c.Name == name {
			return canonRelation(c, v, ordered)
		}
	}
	return canonJSON(v)
}

func canonRelation(c *node, v any, ordered bool) any {
	if obj, ok := v.(map[string]any); ok && c.Rel != config.HasMany {
		return canonDoc(c, obj, ordered)
	}
	arr, ok := v.([]any)
	if !ok || c.Rel != config.HasMany {
		return canonJSON(v)
	}
	out := make([]any, len(arr))
	for i, e := range arr {
		if obj, ok := e.(map[string]any); ok {
			out[i] = canonDoc(c, obj, ordered)
		} else {
			out[i] = canonJSON(e)
		}
	}
	if ordered {
		return out
	}
	return sortSet(out)
}

// canonSource decodes a document's _source and returns its canonical JSON,
// with has_many arrays sorted or, with ordered, as the document has them.
func canonSource(n *node, source json.RawMessage, ordered bool) ([]byte, error) {
	v, err := decodeJSON(source)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return json.Marshal(canonJSON(v))
	}
	doc := canonDoc(n, obj, ordered)
	if key, ok := obj[transform.KeyField]; ok {
		// The key kept beside a hashed id compares as the id's parts.
		doc[transform.KeyField] = canonKey(key)
	}
	return json.Marshal(doc)
}

// canonKey turns a document's kept key into the text parts of its id, or
// leaves it as it is when it is no key.
func canonKey(key any) any {
	raw, err := json.Marshal(key)
	if err != nil {
		return canonJSON(key)
	}
	parts, err := transform.KeyParts(raw)
	if err != nil {
		return canonJSON(key)
	}
	return parts
}
