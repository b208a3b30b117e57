package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// TableLayout is what the store keeps of one table's rows: the key, the
// columns (every column sent, with AllColumns) and the join indexes.
// Views added to a running daemon are built from the rows the store
// already holds when it keeps every column and index they need.
type TableLayout struct {
	Key        []string   `json:"key"`
	Columns    []string   `json:"columns,omitempty"` // in name order
	AllColumns bool       `json:"all_columns,omitempty"`
	Indexes    [][]string `json:"indexes,omitempty"`
}

// Covers reports whether rows stored as l hold everything need asks for.
func (l *TableLayout) Covers(need *TableLayout) bool {
	if l == nil || need == nil || !slices.Equal(l.Key, need.Key) {
		return false
	}
	if need.AllColumns && !l.AllColumns {
		return false
	}
	if !l.AllColumns {
		for _, c := range need.Columns {
			if _, found := slices.BinarySearch(l.Columns, c); !found {
				return false
			}
		}
	}
	for _, ix := range need.Indexes {
		if !slices.ContainsFunc(l.Indexes, func(have []string) bool { return slices.Equal(have, ix) }) {
			return false
		}
	}
	return true
}

// Intersect is what every row holds when some are stored as l and the
// others as o; nil when either is unknown or their keys differ.
func (l *TableLayout) Intersect(o *TableLayout) *TableLayout {
	if l == nil || o == nil || !slices.Equal(l.Key, o.Key) {
		return nil
	}
	out := &TableLayout{Key: slices.Clone(l.Key), AllColumns: l.AllColumns && o.AllColumns}
	switch {
	case l.AllColumns && o.AllColumns:
	case l.AllColumns:
		out.Columns = slices.Clone(o.Columns)
	case o.AllColumns:
		out.Columns = slices.Clone(l.Columns)
	default:
		for _, c := range l.Columns {
			if _, found := slices.BinarySearch(o.Columns, c); found {
				out.Columns = append(out.Columns, c)
			}
		}
	}
	for _, ix := range l.Indexes {
		if slices.ContainsFunc(o.Indexes, func(have []string) bool { return slices.Equal(have, ix) }) {
			out.Indexes = append(out.Indexes, slices.Clone(ix))
		}
	}
	return out
}

// LayoutRecord is what the store knows of a table's stored rows: Held,
// the layout every row is known to have (nil: unknown), and Copying, the
// layout a copy under way writes every row with. A copy is a chunked
// copy of the table, or with BySnapshot its source's full snapshot; once
// it is done, its layout is held.
type LayoutRecord struct {
	Held       *TableLayout `json:"held,omitempty"`
	Copying    *TableLayout `json:"copying,omitempty"`
	BySnapshot bool         `json:"by_snapshot,omitempty"`
}

func layoutKey(t TableID) []byte {
	return key(spaceMeta, "layout", t.Source, t.Table.Schema+"."+t.Table.Name)
}

// TableLayouts returns the layout record of every table that has one.
func (s *Store) TableLayouts() (map[TableID]LayoutRecord, error) {
	prefix := append(key(spaceMeta, "layout"), 0)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[TableID]LayoutRecord{}
	for it.First(); it.Valid(); it.Next() {
		parts := bytes.SplitN(it.Key()[len(prefix):], []byte{0}, 2)
		dot := -1
		if len(parts) == 2 {
			dot = bytes.IndexByte(parts[1], '.')
		}
		var rec LayoutRecord
		if dot < 0 || json.Unmarshal(it.Value(), &rec) != nil {
			return nil, corruptState("table layout record %q", it.Key())
		}
		t := TableID{Source: string(parts[0])}
		t.Table.Schema, t.Table.Name = string(parts[1][:dot]), string(parts[1][dot+1:])
		out[t] = rec
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read table layouts: %w", err)
	}
	return out, nil
}

// SetTableLayouts durably replaces the layout records: set holds the new
// records, and tables in drop lose theirs.
func (s *Store) SetTableLayouts(set map[TableID]LayoutRecord, drop []TableID) error {
	b := s.db.NewBatch()
	defer b.Close()
	for t, rec := range set {
		v, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encode table layout of %s: %w", t.Table, err)
		}
		if err := b.Set(layoutKey(t), v, nil); err != nil {
			return err
		}
	}
	for _, t := range drop {
		if err := b.Delete(layoutKey(t), nil); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("record table layouts: %w", err)
	}
	return nil
}

// BuildProgress is how far a view's documents are built from the rows the
// store holds (see transform's build from state): the index they go to,
// the last root key whose document was sent and marked pending, and
// whether every root row was.
type BuildProgress struct {
	Target string `json:"target"`
	After  string `json:"after,omitempty"`
	Done   bool   `json:"done,omitempty"`
}

func buildKey(view string) []byte { return key(spaceMeta, "build", view) }

// BuildProgress returns the recorded progress of view's build, ok false
// when there is none.
func (s *Store) BuildProgress(view string) (p BuildProgress, ok bool, err error) {
	v, ok, err := get(s.db, buildKey(view))
	if err != nil || !ok {
		return p, false, err
	}
	if err := json.Unmarshal(v, &p); err != nil {
		return p, false, corruptState("build progress of view %q: %v", view, err)
	}
	return p, true, nil
}

// SetBuildProgress durably records view's build progress.
func (s *Store) SetBuildProgress(view string, p BuildProgress) error {
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode build progress of view %q: %w", view, err)
	}
	if err := s.db.Set(buildKey(view), v, pebble.Sync); err != nil {
		return fmt.Errorf("record build progress of view %q: %w", view, err)
	}
	return nil
}

// RowKeys lists up to n primary keys of t's stored rows in key order,
// those after the key after ("" for the first), and whether more follow.
func (r *Reader) RowKeys(t TableID, after string, n int) (pks []string, more bool, err error) {
	return rowKeys(r.rd, t, after, n)
}

// rowKeys lists the primary keys of t's stored rows in key order, those
// after the key after ("" for the first), at most n of them (all when n
// is 0), and whether more follow.
func rowKeys(rd pebble.Reader, t TableID, after string, n int) (pks []string, more bool, err error) {
	prefix := appendRowPrefix(nil, t)
	lower := prefix
	if after != "" {
		lower = appendRowKey(nil, t, after)
	}
	it, err := rd.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, false, err
	}
	var bad []byte
	for it.First(); it.Valid(); it.Next() {
		pk, ok := keyValue(it.Key()[len(prefix):])
		if !ok {
			bad = bytes.Clone(it.Key())
			break
		}
		if after != "" && pk == after {
			continue
		}
		if n > 0 && len(pks) == n {
			more = true
			break
		}
		pks = append(pks, pk)
	}
	if err := it.Close(); err != nil {
		return nil, false, fmt.Errorf("scan %s: %w", t.Table, err)
	}
	if bad != nil {
		return nil, false, corruptKey(bad)
	}
	return pks, more, nil
}
