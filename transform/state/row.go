package state

import (
	"slices"
	"strings"

	"github.com/projector-dev/projector/capture"
)

// TableID names one table of one source: the same table name may exist in
// several sources.
type TableID struct {
	Source string
	Table  capture.Table
}

// Row is a row as kept in the store: the columns the views need, in name
// order, with their values already in document JSON form. A row has few
// columns: a slice searched in order is cheaper to build and read than a
// map. A row read from the store may be shared through the row cache: it
// must not be changed.
type Row struct {
	Cols []Column
}

// Column is one column of a stored row. Numeric marks a PostgreSQL
// numeric, kept as an exact string; a view may ask for numbers.
type Column struct {
	Name    string
	Value   string // JSON
	Numeric bool
}

// NewRow makes a row with room for n columns. A row of a few columns
// (most of them) comes in one allocation with its columns: every applied
// change and every row read makes one.
func NewRow(n int) *Row {
	switch {
	case n <= 4:
		r := &struct {
			row  Row
			cols [4]Column
		}{}
		r.row.Cols = r.cols[:0]
		return &r.row
	case n <= 8:
		r := &struct {
			row  Row
			cols [8]Column
		}{}
		r.row.Cols = r.cols[:0]
		return &r.row
	}
	return &Row{Cols: make([]Column, 0, n)}
}

// Value returns the JSON value of col, if the row has it.
func (r *Row) Value(col string) (string, bool) {
	for i := range r.Cols {
		if r.Cols[i].Name == col {
			return r.Cols[i].Value, true
		}
	}
	return "", false
}

// IsNumeric reports whether col holds a PostgreSQL numeric.
func (r *Row) IsNumeric(col string) bool {
	for i := range r.Cols {
		if r.Cols[i].Name == col {
			return r.Cols[i].Numeric
		}
	}
	return false
}

// SortColumns puts the columns in name order, the order they are stored
// in.
func (r *Row) SortColumns() {
	slices.SortFunc(r.Cols, func(a, b Column) int { return strings.Compare(a.Name, b.Name) })
}
