package transform

import (
	"fmt"
	"slices"

	"github.com/projector-dev/projector/transform/state"
)

// tablePlan says what the store keeps of one table and where the table
// appears in views.
type tablePlan struct {
	id  state.TableID
	key []string
	// columns lists what is stored; allColumns stores every column sent.
	columns    map[string]bool
	allColumns bool
	// sorted lists columns in name order, the order rows store them in.
	sorted []string
	// indexes are the column lists rows are findable by: the join columns
	// on both sides of every relation the table takes part in.
	indexes [][]string
	// nodes are the table's places in the views' trees.
	nodes []placement
}

type placement struct {
	view *View
	node *Node
}

// plan is the compiled form of all views.
type plan struct {
	views  []*View
	byName map[string]*View
	tables map[state.TableID]*tablePlan
}

func newPlan(views []*View) (*plan, error) {
	p := &plan{views: views, byName: map[string]*View{}, tables: map[state.TableID]*tablePlan{}}
	for _, v := range views {
		if err := v.link(); err != nil {
			return nil, err
		}
		if _, dup := p.byName[v.Name]; dup {
			return nil, fmt.Errorf("view %q is defined twice", v.Name)
		}
		p.byName[v.Name] = v
		var err error
		v.Root.walk(func(n *Node) {
			if err == nil {
				err = p.add(v, n)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	for _, tp := range p.tables {
		for col := range tp.columns {
			tp.sorted = append(tp.sorted, col)
		}
		slices.Sort(tp.sorted)
	}
	return p, nil
}

func (p *plan) add(v *View, n *Node) error {
	tp := p.table(n)
	if !slices.Equal(tp.key, n.Key) {
		return fmt.Errorf("view %q: table %s has key %v here and %v elsewhere", v.Name, n.Table, n.Key, tp.key)
	}
	tp.nodes = append(tp.nodes, placement{v, n})
	tp.allColumns = tp.allColumns || n.AllFields
	for _, f := range n.Fields {
		tp.columns[f.Column] = true
	}
	if n.parent != nil {
		tp.addIndex(n.relatedCols())
		p.table(n.parent).addIndex(n.parentCols())
	}
	return nil
}

func (p *plan) table(n *Node) *tablePlan {
	tp, ok := p.tables[n.id()]
	if !ok {
		tp = &tablePlan{id: n.id(), key: n.Key, columns: map[string]bool{}}
		for _, k := range n.Key {
			tp.columns[k] = true
		}
		p.tables[n.id()] = tp
	}
	return tp
}

func (tp *tablePlan) addIndex(cols []string) {
	for _, c := range cols {
		tp.columns[c] = true
	}
	if slices.Equal(cols, tp.key) {
		return // rows are found by their key without an index
	}
	for _, have := range tp.indexes {
		if slices.Equal(have, cols) {
			return
		}
	}
	tp.indexes = append(tp.indexes, cols)
}

func (tp *tablePlan) stores(col string) bool { return tp.allColumns || tp.columns[col] }
