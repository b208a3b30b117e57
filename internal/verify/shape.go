package verify

import (
	"fmt"
	"slices"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// node is one level of a view's document: the root table or a relation,
// resolved against the catalog.
type node struct {
	Name  string // the relation's field name; empty for the root
	Rel   config.RelationType
	Table config.TableRef
	Key   []string
	// Fields are the columns the document shows, with their types.
	Fields []field
	// ParentCols and RelatedCols pair up the join columns, in the same order.
	ParentCols  []string
	RelatedCols []string
	Children    []*node
}

type field struct {
	Column string
	Name   string
	Type   colType
}

// catalog is what capture.Describe reports, by table.
type catalog map[config.TableRef]*capture.TableInfo

// buildShape resolves a view's tree against the catalog.
func buildShape(v *config.View, cat catalog) (*node, error) {
	root, err := newNode(cat, v.Root, v.Fields, v.AllColumns)
	if err != nil {
		return nil, fmt.Errorf("view %q: %w", v.Name, err)
	}
	if err := addRelations(cat, root, v.Relations); err != nil {
		return nil, fmt.Errorf("view %q: %w", v.Name, err)
	}
	return root, nil
}

func addRelations(cat catalog, parent *node, rels []config.Relation) error {
	for i := range rels {
		r := &rels[i]
		n, err := newNode(cat, r.Table, r.Fields, r.AllColumns)
		if err != nil {
			return fmt.Errorf("relation %q: %w", r.Name, err)
		}
		n.Name, n.Rel = r.Name, r.Type
		for _, p := range r.On {
			n.ParentCols = append(n.ParentCols, p.Parent)
			n.RelatedCols = append(n.RelatedCols, p.Related)
		}
		if err := addRelations(cat, n, r.Relations); err != nil {
			return fmt.Errorf("relation %q: %w", r.Name, err)
		}
		parent.Children = append(parent.Children, n)
	}
	return nil
}

func newNode(cat catalog, t config.TableRef, fields []config.Field, all bool) (*node, error) {
	info := cat[t]
	if info == nil {
		return nil, fmt.Errorf("table %s does not exist", t)
	}
	if len(info.Key) == 0 {
		return nil, fmt.Errorf("table %s has no primary key or replica identity", t)
	}
	n := &node{Table: t, Key: info.Key}
	if all {
		for _, c := range info.Columns {
			fields = append(fields, config.Field{Column: c.Name, Name: c.Name})
		}
	}
	for _, f := range fields {
		c, ok := info.Column(f.Column)
		if !ok {
			return nil, fmt.Errorf("table %s has no column %q", t, f.Column)
		}
		n.Fields = append(n.Fields, field{Column: f.Column, Name: f.Name, Type: colType{Base: c.Base, Array: c.Array}})
	}
	return n, nil
}

// walk calls fn for n and every node below it, parents first.
func (n *node) walk(fn func(*node)) {
	fn(n)
	for _, c := range n.Children {
		c.walk(fn)
	}
}

// columnsByTable lists, for every table of the tree, the columns that must
// be read: shown fields, keys and join columns on both sides.
func columnsByTable(root *node) map[config.TableRef][]string {
	out := map[config.TableRef][]string{}
	add := func(t config.TableRef, cols ...string) {
		for _, c := range cols {
			if !slices.Contains(out[t], c) {
				out[t] = append(out[t], c)
			}
		}
	}
	root.walk(func(n *node) {
		add(n.Table, n.Key...)
		add(n.Table, n.RelatedCols...)
		for _, f := range n.Fields {
			add(n.Table, f.Column)
		}
		for _, c := range n.Children {
			add(n.Table, c.ParentCols...)
		}
	})
	return out
}
