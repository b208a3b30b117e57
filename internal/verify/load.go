package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform"
)

// nodeData is the rows read for each node of a view's tree. After a full
// load, nodes of the same table share one tableData.
type nodeData map[*node]*tableData

// snapshots opens one REPEATABLE READ transaction per source on first use,
// so that the tables of a source are read as of one moment.
type snapshots struct {
	db  *sources
	txs map[string]pgx.Tx
}

func (s *snapshots) tx(ctx context.Context, source string) (pgx.Tx, error) {
	if tx, ok := s.txs[source]; ok {
		return tx, nil
	}
	tx, err := s.db.conns[source].BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, s.db.sourceErr(source, fmt.Errorf("begin snapshot: %w", err))
	}
	s.txs[source] = tx
	return tx, nil
}

// end rolls the read-only transactions back; nothing is lost.
func (s *snapshots) end() {
	for _, tx := range s.txs {
		_ = tx.Rollback(context.Background())
	}
}

func (db *sources) sourceErr(name string, err error) error {
	src := db.cfg.Sources[name]
	return fmt.Errorf("source %q (%s): %w", name, src.RedactedDSN(), err)
}

// load reads every table of the tree in full, each once.
func (db *sources) load(ctx context.Context, root *node) (nodeData, error) {
	snap := &snapshots{db: db, txs: map[string]pgx.Tx{}}
	defer snap.end()
	cols := columnsByTable(root)
	byTable := map[config.TableRef]*tableData{}
	out := nodeData{}
	var err error
	root.walk(func(n *node) {
		if err != nil {
			return
		}
		td, ok := byTable[n.Table]
		if !ok {
			var tx pgx.Tx
			if tx, err = snap.tx(ctx, n.Table.Source); err != nil {
				return
			}
			if n.Table.IsEntity() {
				td, db.events[n.Table], err = db.loadEntity(ctx, tx, n.Table, cols[n.Table])
			} else {
				td, err = loadTable(ctx, tx, db.cat[n.Table], cols[n.Table], nil, nil)
			}
			if err != nil {
				err = db.sourceErr(n.Table.Source, err)
				return
			}
			byTable[n.Table] = td
		}
		out[n] = td
	})
	return out, err
}

// subsetType reports whether PostgreSQL reads a column type's document
// form back as the same value, so document ids and join values of that type
// can filter rows.
func subsetType(base string) bool {
	switch base {
	case "int2", "int4", "int8", "numeric", "text", "varchar", "bpchar", "uuid", "timestamptz", "timestamp":
		return true
	}
	return false
}

// canSubset reports whether the documents with given ids can be rebuilt
// from just their rows: keys and join columns must be of such types.
func (db *sources) canSubset(root *node) bool {
	ok := true
	check := func(t config.TableRef, cols []string) {
		for _, c := range cols {
			col, found := db.cat[t].Column(c)
			ok = ok && found && !col.Array && subsetType(col.Base)
		}
	}
	check(root.Table, root.Key)
	root.walk(func(n *node) {
		ok = ok && !n.Table.IsEntity() // folded from every event, never read by key
		for _, c := range n.Children {
			check(n.Table, c.ParentCols)
			check(c.Table, c.RelatedCols)
		}
	})
	return ok
}

// loadSubset reads only the rows that make up the documents with the given
// ids: the root rows by key, then each relation's rows by the join values
// of the rows above. Ids that cannot be split into the key's columns are
// left out: no root row can yield them.
func (db *sources) loadSubset(ctx context.Context, root *node, ids []string) (nodeData, error) {
	filter := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		if transform.IsHashedID(id) {
			// The key is in the document, not the id: read in full.
			return nil, fmt.Errorf("document %s: the id is a hash of the key", id)
		}
		parts, err := transform.ParseDocID(id, len(root.Key))
		if err != nil {
			continue
		}
		obj := map[string]any{}
		for i, k := range root.Key {
			obj[k] = parts[i]
		}
		if db.keyFits(root, parts) {
			filter = append(filter, obj)
		}
	}
	snap := &snapshots{db: db, txs: map[string]pgx.Tx{}}
	defer snap.end()
	out := nodeData{}
	if err := db.loadNode(ctx, snap, root, columnsByTable(root), root.Key, filter, out); err != nil {
		return nil, err
	}
	return out, nil
}

// keyFits reports whether the parts of an id read as values of the key
// columns' types; PostgreSQL would refuse the whole read otherwise.
func (db *sources) keyFits(root *node, parts []string) bool {
	for i, k := range root.Key {
		col, _ := db.cat[root.Table].Column(k)
		var v any
		switch col.Base {
		case "int2", "int4", "int8":
			if !fitsInteger(col.Base, parts[i]) {
				return false
			}
			continue
		case "numeric":
			v = canonNumber("numeric", parts[i])
		case "timestamp", "timestamptz":
			v = canonString(col.Base, parts[i])
		case "uuid":
			if len(parts[i]) != 36 || strings.Trim(strings.ToLower(parts[i]), "0123456789abcdef-") != "" {
				return false
			}
			continue
		default:
			continue
		}
		if s, _ := v.(string); strings.HasPrefix(s, "s:") {
			return false
		}
	}
	return true
}

func (db *sources) loadNode(ctx context.Context, snap *snapshots, n *node, cols map[config.TableRef][]string,
	filterCols []string, filter []map[string]any, out nodeData) error {
	td := &tableData{cols: cols[n.Table], colIdx: map[string]int{}, indexes: map[string]map[string][]int{}}
	for i, c := range td.cols {
		td.colIdx[c] = i
	}
	// A join value the related column's type cannot hold matches no row;
	// PostgreSQL would refuse the whole read for it.
	filter = slices.DeleteFunc(filter, func(obj map[string]any) bool {
		for col, v := range obj {
			c, _ := db.cat[n.Table].Column(col)
			if !fitsInteger(c.Base, fmt.Sprint(v)) {
				return true
			}
		}
		return false
	})
	if len(filter) > 0 {
		enc, err := json.Marshal(filter)
		if err != nil {
			return err
		}
		tx, err := snap.tx(ctx, n.Table.Source)
		if err != nil {
			return err
		}
		if td, err = loadTable(ctx, tx, db.cat[n.Table], cols[n.Table], filterCols, enc); err != nil {
			return db.sourceErr(n.Table.Source, err)
		}
	}
	out[n] = td
	for _, c := range n.Children {
		if err := db.loadNode(ctx, snap, c, cols, c.RelatedCols, td.joinFilter(c), out); err != nil {
			return err
		}
	}
	return nil
}

// joinFilter lists the distinct join values the rows of td offer child c,
// keyed by c's related columns.
func (td *tableData) joinFilter(c *node) []map[string]any {
	seen := map[string]bool{}
	var out []map[string]any
	for i := range td.rows {
		jv, ok := td.joinValue(i, c.ParentCols)
		if !ok || seen[jv] {
			continue
		}
		seen[jv] = true
		obj := make(map[string]any, len(c.RelatedCols))
		for k, col := range c.RelatedCols {
			obj[col] = plain(td.rows[i][td.colIdx[c.ParentCols[k]]])
		}
		out = append(out, obj)
	}
	return out
}

// fitsInteger reports whether text is a value of an integer column of the
// given base type, in its range; any text fits a column of another type.
func fitsInteger(base, text string) bool {
	bits := map[string]int{"int2": 16, "int4": 32, "int8": 64}[base]
	if bits == 0 {
		return true
	}
	i, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return false
	}
	limit := int64(math.MaxInt64)
	if bits < 64 {
		limit = 1<<(bits-1) - 1
	}
	return i <= limit && i >= -limit-1
}
