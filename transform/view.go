package transform

import (
	"fmt"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/state"
)

// Kind is how a node of a view joins its parent.
type Kind string

// The join kinds. Root is the view's own table: one document per row.
const (
	Root      Kind = "root"
	BelongsTo Kind = "belongs_to" // parent.col -> related.key: an object, null when absent
	HasOne    Kind = "has_one"    // related.col -> parent.key: an object, null when absent
	HasMany   Kind = "has_many"   // related.col -> parent.key: an array
)

// Field maps a column to a document field name.
type Field struct {
	Column string
	Name   string
}

// JoinPair says that Parent (a column of the parent table) equals Related
// (a column of this node's table).
type JoinPair struct {
	Parent  string
	Related string
}

// Node is a table in a view's tree: the root, or a relation nested in its
// parent's document under Name.
type Node struct {
	Name   string
	Kind   Kind
	Source string
	Table  capture.Table
	// Key is the table's primary key (replica identity) columns.
	Key []string
	// Fields lists the columns the document shows; AllFields means every
	// column, named as in the table.
	Fields    []Field
	AllFields bool
	On        []JoinPair
	Children  []*Node
	parent    *Node
	// parentOn and relatedOn are On's columns of each side, listed by
	// link: every document built reads them for each of its relations.
	parentOn, relatedOn []string
}

// View is a named document shape over a root table and its relations.
type View struct {
	Name string
	Root *Node
	// NumericAsNumber writes numeric columns as JSON numbers instead of
	// exact strings; values beyond float64 precision may then be rounded by
	// the search engine.
	NumericAsNumber bool
	// JSON names the index mapping of json and jsonb fields, by document
	// field path; documents do not depend on it.
	JSON map[string]string
}

func (n *Node) id() state.TableID { return state.TableID{Source: n.Source, Table: n.Table} }

// link sets parent pointers and checks the tree is complete.
func (v *View) link() error {
	if v.Root == nil || v.Root.Kind != Root {
		return fmt.Errorf("view %q: no root table", v.Name)
	}
	return v.Root.link(nil, v.Name)
}

func (n *Node) link(parent *Node, path string) error {
	n.parent = parent
	n.parentOn, n.relatedOn = n.onCols(true), n.onCols(false)
	if len(n.Key) == 0 {
		return fmt.Errorf("view %s: table %s has no key columns", path, n.Table)
	}
	if parent != nil && len(n.On) == 0 {
		return fmt.Errorf("view %s: relation has no join columns", path)
	}
	for _, c := range n.Children {
		if err := c.link(n, path+"."+c.Name); err != nil {
			return err
		}
	}
	return nil
}

// walk visits n and every node below it.
func (n *Node) walk(visit func(*Node)) {
	visit(n)
	for _, c := range n.Children {
		c.walk(visit)
	}
}

// parentCols lists the parent's join columns, in On's order. The list
// is shared: callers must not change it.
func (n *Node) parentCols() []string {
	if len(n.parentOn) == len(n.On) {
		return n.parentOn
	}
	return n.onCols(true)
}

// relatedCols lists n's own join columns, in On's order. The list is
// shared: callers must not change it.
func (n *Node) relatedCols() []string {
	if len(n.relatedOn) == len(n.On) {
		return n.relatedOn
	}
	return n.onCols(false)
}

// onCols lists the join columns of the parent's side or n's.
func (n *Node) onCols(parent bool) []string {
	cols := make([]string, len(n.On))
	for i, p := range n.On {
		if parent {
			cols[i] = p.Parent
		} else {
			cols[i] = p.Related
		}
	}
	return cols
}
