package config

import "slices"

// Join is one relation of a view, met on a depth-first walk from the root,
// with the table it hangs from. It carries what a live check needs: the
// tables on both sides and the column pairs, with Relation.Pos and
// JoinPair.Pos to report a problem against.
type Join struct {
	// Path is the relation names from the root, e.g. [line_items menu_item].
	Path     []string
	Parent   TableRef
	Relation *Relation
}

// Joins walks the view's relations depth first, parents before children.
func (v *View) Joins() []Join {
	var out []Join
	var walk func(parent TableRef, path []string, rels []Relation)
	walk = func(parent TableRef, path []string, rels []Relation) {
		for i := range rels {
			r := &rels[i]
			p := append(path[:len(path):len(path)], r.Name)
			out = append(out, Join{Path: p, Parent: parent, Relation: r})
			walk(r.Table, p, r.Relations)
		}
	}
	walk(v.Root, nil, v.Relations)
	return out
}

// Tables returns every table the view reads, root first, each once.
func (v *View) Tables() []TableRef {
	out := []TableRef{v.Root}
	for _, j := range v.Joins() {
		if !slices.Contains(out, j.Relation.Table) {
			out = append(out, j.Relation.Table)
		}
	}
	return out
}

// TablesBySource returns, for each source some view reads, every table that
// source must capture, in the order the views first mention them.
func (c *Config) TablesBySource() map[string][]TableRef {
	out := map[string][]TableRef{}
	for i := range c.Views {
		for _, t := range c.Views[i].Tables() {
			if _, ok := out[t.Source]; !ok && t.IsEntity() {
				out[t.Source] = []TableRef{} // an entity of messages needs no table, but the stream
			}
			for _, t := range c.captured([]TableRef{t}) {
				if !slices.Contains(out[t.Source], t) {
					out[t.Source] = append(out[t.Source], t)
				}
			}
		}
	}
	return out
}
