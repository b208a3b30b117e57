package verify

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/transform"
)

// A view whose key and join columns PostgreSQL reads back from their
// document form (sources.canSubset) is checked in pages, so that verify's
// memory holds one page whatever the view's size: the root table is read
// in primary-key order after the last key of the page before (keyset
// pagination, which works for composite keys of any type), the related rows
// of each page are looked up by their join values, and the index documents
// of the page's ids are read by id; then a scroll over the index's ids
// alone finds the documents no root row yields. Each page reads its sources
// in a snapshot of its own, just before the index, so that the longer the
// check runs, the staler the source side does not grow. Views folded from
// events, or with keys or joins of other types, are read whole as before.

// pageRows is how many root rows, and so documents, one page holds.
const pageRows = pageSize

// loadPage reads up to limit root rows whose keys follow after (from the
// first when nil) and the related rows of their documents, each source in
// one snapshot. It returns the text form of the last root row's key.
func (db *sources) loadPage(ctx context.Context, root *node, after []string, limit int) (nodeData, []string, error) {
	snap := &snapshots{db: db, txs: map[string]pgx.Tx{}}
	defer snap.end()
	cols := columnsByTable(root)
	tx, err := snap.tx(ctx, root.Table.Source)
	if err != nil {
		return nil, nil, err
	}
	td, last, err := readTable(ctx, tx, db.cat[root.Table], cols[root.Table], tableQuery{after: after, limit: limit})
	if err != nil {
		return nil, nil, db.sourceErr(root.Table.Source, err)
	}
	out := nodeData{root: td}
	for _, c := range root.Children {
		if err := db.loadNode(ctx, snap, c, cols, c.RelatedCols, td.joinFilter(c), out); err != nil {
			return nil, nil, err
		}
	}
	return out, last, nil
}

// paged checks a view page by page (see above) and returns what scan
// returns for a whole view, and the number of documents checked.
func (c *checker) paged(ctx context.Context, view string, root *node) (map[string]mismatch, map[string]int64, int, error) {
	bad := map[string]mismatch{}
	ahead := map[string]int64{}
	total, err := countIndex(ctx, c.client, c.alias)
	noIndex := errors.Is(err, errNoIndex)
	if noIndex {
		c.log.Warn("the view's alias does not exist; every document counts as missing", "view", view, "alias", c.alias)
	} else if err != nil {
		return nil, nil, 0, err
	}
	checked := 0
	var after []string
	for {
		tables, last, err := c.db.loadPage(ctx, root, after, pageRows)
		if err != nil {
			return nil, nil, 0, err
		}
		rows := len(tables[root].rows)
		if rows == 0 {
			break
		}
		exp, err := expect(root, tables)
		if err != nil {
			return nil, nil, 0, err
		}
		ids := slices.Sorted(maps.Keys(exp))
		docs := map[string]hit{}
		if !noIndex {
			if docs, err = fetchIDs(ctx, c.client, c.alias, ids); err != nil {
				return nil, nil, 0, err
			}
		}
		for _, id := range ids {
			h, found := docs[id]
			if found {
				c.noteVersion(ahead, h)
			}
			if m, ok := compare(root, exp, id, h.Source, found); !ok {
				if !found {
					// A missing document is listed by id only; settling
					// reads it again. So a lagging index costs an id each.
					m.want = nil
				}
				bad[id] = m
			}
		}
		checked += len(ids)
		if c.opts.Progress != nil {
			c.opts.Progress(view, int64(checked), max(total, int64(checked)))
		}
		if rows < pageRows {
			break
		}
		after = last
	}
	if noIndex {
		return bad, ahead, checked, nil
	}
	if err := c.extras(ctx, view, root, total, bad, ahead); err != nil {
		return nil, nil, 0, err
	}
	return bad, ahead, checked, nil
}

// noteVersion records a document whose _version is ahead of any projector
// could have written.
func (c *checker) noteVersion(ahead map[string]int64, h hit) {
	if c.versionLimit > 0 && h.Version > c.versionLimit {
		ahead[h.ID] = h.Version
	}
}

// extras scrolls over the ids behind the alias and adds to bad the
// documents whose ids no root row yields, looked up a page of ids at a
// time. Only the key a hashed id stands for is read of each document.
func (c *checker) extras(ctx context.Context, view string, root *node, total int64, bad map[string]mismatch, ahead map[string]int64) error {
	batch := make([]hit, 0, pageSize)
	var done int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		gone, err := c.db.absent(ctx, root, batch)
		batch = batch[:0]
		if err != nil || len(gone) == 0 {
			return err
		}
		docs, err := fetchIDs(ctx, c.client, c.alias, gone)
		if err != nil {
			return err
		}
		for _, id := range gone {
			h, found := docs[id]
			if !found {
				continue // deleted since the scroll read it
			}
			c.noteVersion(ahead, h)
			m, _ := compare(root, nil, id, h.Source, true)
			bad[id] = m
		}
		return nil
	}
	err := scanIndex(ctx, c.client, c.alias, `["`+transform.KeyField+`"]`, func(h hit, n int64) error {
		batch = append(batch, h)
		if done++; c.opts.Progress != nil && (done%pageSize == 0 || done == n) {
			c.opts.Progress(view+" (extra documents)", done, max(n, total))
		}
		if len(batch) == pageSize {
			return flush()
		}
		return nil
	})
	if errors.Is(err, errNoIndex) {
		return nil // dropped since the pages were read: nothing is extra
	}
	if err != nil {
		return err
	}
	return flush()
}

// absent returns the ids of the hits that no root row yields now.
func (db *sources) absent(ctx context.Context, root *node, hits []hit) ([]string, error) {
	var gone []string
	pending := map[string]bool{}
	filter := make([]map[string]any, 0, len(hits))
	for _, h := range hits {
		parts, ok := idParts(root, h)
		if !ok || !db.keyFits(root, parts) {
			gone = append(gone, h.ID)
			continue
		}
		obj := make(map[string]any, len(root.Key))
		for i, k := range root.Key {
			obj[k] = parts[i]
		}
		filter = append(filter, obj)
		pending[h.ID] = true
	}
	if len(filter) > 0 {
		enc, err := json.Marshal(filter)
		if err != nil {
			return nil, err
		}
		snap := &snapshots{db: db, txs: map[string]pgx.Tx{}}
		defer snap.end()
		tx, err := snap.tx(ctx, root.Table.Source)
		if err != nil {
			return nil, err
		}
		td, err := loadTable(ctx, tx, db.cat[root.Table], root.Key, root.Key, enc)
		if err != nil {
			return nil, db.sourceErr(root.Table.Source, err)
		}
		for i := range td.rows {
			delete(pending, transform.DocID(keyParts(root, td, i)))
		}
	}
	for id := range pending {
		gone = append(gone, id)
	}
	return gone, nil
}

// idParts returns the key values a document's id stands for: parsed from
// the id, or, for a hashed id, read from the key the document keeps beside
// it and checked against the id.
func idParts(root *node, h hit) ([]string, bool) {
	if !transform.IsHashedID(h.ID) {
		parts, err := transform.ParseDocID(h.ID, len(root.Key))
		return parts, err == nil
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(h.Source, &doc) != nil || doc[transform.KeyField] == nil {
		return nil, false
	}
	parts, err := transform.KeyParts(doc[transform.KeyField])
	if err != nil || len(parts) != len(root.Key) || transform.DocID(parts) != h.ID {
		return nil, false
	}
	return parts, true
}
