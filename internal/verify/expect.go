package verify

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform"
)

// expected holds the documents a view should have, as canonical JSON by
// document _id.
type expected map[string][]byte

// expect joins the tables in memory into the view's documents.
func expect(root *node, tables nodeData) (expected, error) {
	b := &builder{tables: tables, memo: map[*node]map[int]json.RawMessage{}}
	td := tables[root]
	out := make(expected, len(td.rows))
	for i := range td.rows {
		doc := b.doc(root, i)
		parts := keyParts(root, td, i)
		id := transform.DocID(parts)
		if transform.IsHashedID(id) {
			doc[transform.KeyField] = parts
		}
		enc, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		out[id] = enc
	}
	return out, nil
}

type builder struct {
	tables nodeData
	// memo keeps the encoded sub-documents of belongs_to and has_one rows,
	// which many parents may share; has_many rows are encoded once anyway.
	memo map[*node]map[int]json.RawMessage
}

func (b *builder) doc(n *node, i int) map[string]any {
	td := b.tables[n]
	row := td.rows[i]
	m := make(map[string]any, len(n.Fields)+len(n.Children))
	for _, f := range n.Fields {
		m[f.Name] = row[td.colIdx[f.Column]]
	}
	for _, c := range n.Children {
		var matches []int
		if jv, ok := td.joinValue(i, c.ParentCols); ok {
			matches = b.tables[c].lookup(c.RelatedCols, jv)
		}
		m[c.Name] = b.relation(c, matches)
	}
	return m
}

// relation renders the related rows: an array for has_many, otherwise the
// first row in primary-key order, or null.
func (b *builder) relation(c *node, matches []int) any {
	if c.Rel != config.HasMany {
		if len(matches) == 0 {
			return nil
		}
		return b.encoded(c, matches[0])
	}
	out := make([]json.RawMessage, len(matches))
	for k, j := range matches {
		out[k] = b.encoded(c, j)
	}
	slices.SortFunc(out, func(x, y json.RawMessage) int { return bytes.Compare(x, y) })
	return out
}

func (b *builder) encoded(c *node, i int) json.RawMessage {
	if c.Rel == config.HasMany {
		enc, _ := json.Marshal(b.doc(c, i)) // canonical values always encode
		return enc
	}
	m := b.memo[c]
	if m == nil {
		m = map[int]json.RawMessage{}
		b.memo[c] = m
	}
	if d, ok := m[i]; ok {
		return d
	}
	d, _ := json.Marshal(b.doc(c, i))
	m[i] = d
	return d
}

// sortSet orders the elements of a has_many array by their encoding, so
// that arrays compare as multisets.
func sortSet(elems []any) []any {
	keys := make([]string, len(elems))
	idx := make([]int, len(elems))
	for i, e := range elems {
		enc, _ := json.Marshal(e)
		keys[i], idx[i] = string(enc), i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	out := make([]any, len(elems))
	for k, i := range idx {
		out[k] = elems[i]
	}
	return out
}

// joinValue encodes the row's join columns; a NULL joins nothing.
func (td *tableData) joinValue(i int, cols []string) (string, bool) {
	vals := make([]any, len(cols))
	for k, c := range cols {
		v := td.rows[i][td.colIdx[c]]
		if v == nil {
			return "", false
		}
		vals[k] = v
	}
	enc, err := json.Marshal(vals)
	return string(enc), err == nil
}

// lookup returns the rows whose cols equal the encoded join value, in
// primary-key order; the index for cols is built on first use.
func (td *tableData) lookup(cols []string, value string) []int {
	sig := strings.Join(cols, "\x00")
	idx, ok := td.indexes[sig]
	if !ok {
		idx = map[string][]int{}
		for i := range td.rows {
			if jv, ok := td.joinValue(i, cols); ok {
				idx[jv] = append(idx[jv], i)
			}
		}
		td.indexes[sig] = idx
	}
	return idx[value]
}

// keyParts returns the values of a root row's key in the text form
// transform.DocID makes the document _id of: a string as it is, any other
// value as JSON. Values that projector reformats (instants, bytes) take
// that form.
func keyParts(root *node, td *tableData, i int) []string {
	parts := make([]string, len(root.Key))
	for k, col := range root.Key {
		raw := td.keys[i][k]
		var s string
		switch c := td.rows[i][td.colIdx[col]].(type) {
		case string:
			if strings.HasPrefix(c, "t:") || strings.HasPrefix(c, "y:") {
				s = c[2:]
			} else if json.Unmarshal([]byte(raw), &s) != nil {
				s = raw
			}
		default:
			s = raw
		}
		parts[k] = s
	}
	return parts
}
