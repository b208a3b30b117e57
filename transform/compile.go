package transform

import (
	"errors"
	"strings"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// Schema is what the source catalogs say about the tables views use, by
// source name.
type Schema map[string]map[capture.Table]*capture.TableInfo

// Compile turns the configured views into engine views, checking them
// against the live schema: every problem (a missing table or column, a
// table without key, join columns of different types) is reported at its
// place in the configuration file, all at once.
func Compile(views []config.View, schema Schema) ([]*View, error) {
	var errs []error
	out := make([]*View, 0, len(views))
	for _, cv := range views {
		c := compiler{schema: schema}
		root := c.node(cv.Pos, cv.Root, cv.Fields, cv.AllColumns)
		if root != nil {
			root.Kind = Root
			root.Children = c.relations(cv.Relations, root)
			c.reserved(cv, root)
		}
		errs = append(errs, c.errs...)
		out = append(out, &View{Name: cv.Name, Root: root, NumericAsNumber: cv.Numeric == config.NumericNumber})
		if len(cv.JSON) > 0 && root != nil && len(c.errs) == 0 {
			jc := compiler{schema: schema}
			out[len(out)-1].JSON = jc.jsonModes(cv, root)
			errs = append(errs, jc.errs...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

type compiler struct {
	schema Schema
	errs   []error
}

func (c *compiler) fail(err error) { c.errs = append(c.errs, err) }

// reserved refuses a root field named KeyField, which a document whose id
// is a hash of its key uses to keep the key.
func (c *compiler) reserved(cv config.View, root *Node) {
	for _, f := range cv.Fields {
		if f.Name == KeyField {
			c.fail(f.Pos.Errorf("field %q is where a document with a hashed id keeps its key; name the field otherwise", KeyField))
		}
	}
	for _, r := range cv.Relations {
		if r.Name == KeyField {
			c.fail(r.Pos.Errorf("relation %q is where a document with a hashed id keeps its key; name the relation otherwise", KeyField))
		}
	}
	if info := c.schema[root.Source][root.Table]; root.AllFields && info != nil {
		if _, ok := info.Column(KeyField); ok {
			c.fail(cv.Pos.Errorf("column %q of %s is where a document with a hashed id keeps its key; list the view's fields and name that one otherwise", KeyField, root.Table))
		}
	}
}

func (c *compiler) table(pos config.Pos, ref config.TableRef) *capture.TableInfo {
	t := capture.Table{Schema: ref.Schema, Name: ref.Name}
	info := c.schema[ref.Source][t]
	if info == nil {
		c.fail(pos.Errorf("table %s does not exist in source %q: create it, or fix the table name", t, ref.Source))
		return nil
	}
	if len(info.Key) == 0 {
		c.fail(pos.Errorf("table %s in source %q has no primary key to make document ids of: add one, or set REPLICA IDENTITY USING INDEX on a unique index of NOT NULL columns", t, ref.Source))
		return nil
	}
	return info
}

func (c *compiler) node(pos config.Pos, ref config.TableRef, fields []config.Field, all bool) *Node {
	info := c.table(pos, ref)
	if info == nil {
		return nil
	}
	n := &Node{Source: ref.Source, Table: info.Table, Key: info.Key, AllFields: all}
	for _, f := range fields {
		if _, ok := info.Column(f.Column); !ok {
			c.fail(f.Pos.Errorf("column %q does not exist in %s (source %q): fix the field, or add the column", f.Column, info.Table, ref.Source))
			continue
		}
		n.Fields = append(n.Fields, Field{Column: f.Column, Name: f.Name})
	}
	return n
}

func (c *compiler) relations(rels []config.Relation, parent *Node) []*Node {
	var out []*Node
	for _, r := range rels {
		n := c.node(r.Pos, r.Table, r.Fields, r.AllColumns)
		if n == nil {
			continue
		}
		n.Name = r.Name
		n.Kind = Kind(r.Type)
		c.joins(r, parent, n)
		n.Children = c.relations(r.Relations, n)
		out = append(out, n)
	}
	return out
}

// joins checks that both sides of every join pair exist and have the same
// type: values of different types never compare equal in the index, so
// such a join would silently match nothing.
func (c *compiler) joins(r config.Relation, parent, n *Node) {
	pInfo := c.schema[parent.Source][parent.Table]
	nInfo := c.schema[n.Source][n.Table]
	for _, p := range r.On {
		pc, okP := pInfo.Column(p.Parent)
		nc, okN := nInfo.Column(p.Related)
		switch {
		case !okP:
			c.fail(p.Pos.Errorf("join column %q does not exist in parent table %s", p.Parent, parent.Table))
		case !okN:
			c.fail(p.Pos.Errorf("join column %q does not exist in related table %s", p.Related, n.Table))
		case !sameJoinType(pc, nc):
			c.fail(p.Pos.Errorf("join columns have different types: %s.%s is %s but %s.%s is %s; change one column's type or join on other columns",
				parent.Table, pc.Name, pc.Type, n.Table, nc.Name, nc.Type))
		default:
			n.On = append(n.On, JoinPair{Parent: p.Parent, Related: p.Related})
		}
	}
	if r.Type == config.HasOne && len(n.On) == len(r.On) && !nInfo.UniqueOn(n.relatedCols()) {
		// Several rows could match one parent; the document would show
		// one of them and never say so.
		cols := strings.Join(n.relatedCols(), ", ")
		c.fail(r.Pos.Errorf("relation %q is has_one, but no unique index of %s covers (%s), so several rows could match one %s: add one (CREATE UNIQUE INDEX ON %s (%s)), or make the relation has_many",
			r.Name, n.Table, cols, parent.Table, n.Table, cols))
	}
}

// joinFamilies groups types whose values render identically in the index,
// so joins across them still match.
var joinFamilies = map[string]string{
	"int2": "int", "int4": "int", "int8": "int",
	"text": "text", "varchar": "text", "bpchar": "text", "name": "text", "citext": "text",
}

func sameJoinType(a, b capture.Column) bool {
	if a.Array != b.Array {
		return false
	}
	fa, fb := joinFamilies[a.Base], joinFamilies[b.Base]
	if fa != "" || fb != "" {
		return fa == fb
	}
	return a.Base == b.Base
}
