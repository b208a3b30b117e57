package verify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/sink"
)

// checker verifies one view.
type checker struct {
	db     *sources
	client *sink.Client
	opts   Options
	log    *slog.Logger
	alias  string
	// versionLimit is the highest _version projector could have written
	// when the check began; zero turns the version check off.
	versionLimit int64
}

// mismatch is one document whose two sides differ, in canonical form;
// a nil side is a document that side lacks.
type mismatch struct {
	want, got []byte
	// source is the document as the index holds it, for naming the
	// positions of differences as the document has them.
	source json.RawMessage
}

func (m mismatch) kind() string {
	switch {
	case m.got == nil:
		return KindMissing
	case m.want == nil:
		return KindExtra
	}
	return KindStale
}

func (c *checker) view(ctx context.Context, v *config.View) (ViewReport, error) {
	root, err := buildShape(v, c.db.cat)
	if err != nil {
		return ViewReport{}, err
	}
	var bad map[string]mismatch
	var ahead map[string]int64
	var checked int
	whole := !c.db.canSubset(root)
	if !whole {
		// In bounded memory: see paged.go.
		restore := idleCollector(c.opts.MemoryBudget)
		bad, ahead, checked, err = c.paged(ctx, v.Name, root)
		restore()
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
			// A value PostgreSQL will not convert back to a key or join
			// column's type only costs the memory of a whole read.
			c.log.Warn("reading the view in pages failed on a value; reading it whole", "view", v.Name, "error", err)
			whole = true
		} else if err != nil {
			return ViewReport{}, err
		}
	}
	if whole {
		exp, err := c.expected(ctx, root, nil)
		if err != nil {
			return ViewReport{}, err
		}
		if bad, ahead, err = c.scan(ctx, v.Name, root, exp); err != nil {
			return ViewReport{}, err
		}
		checked = len(exp)
	}
	if bad, err = c.settle(ctx, v.Name, root, bad); err != nil {
		return ViewReport{}, err
	}
	return c.report(v.Name, root, checked, bad, ahead), nil
}

// expected builds the view's documents: all of them when ids is nil, else
// those with the given ids, read by key where the key and join types allow.
func (c *checker) expected(ctx context.Context, root *node, ids []string) (expected, error) {
	var tables nodeData
	var err error
	if ids != nil && c.db.canSubset(root) {
		if tables, err = c.db.loadSubset(ctx, root, ids); err != nil {
			// A value PostgreSQL will not convert (say, an int8 join value
			// beyond an int2 column) only costs a full read.
			c.log.Debug("reading documents by id failed; reading the view in full", "error", err)
		}
	}
	if tables == nil {
		tables, err = c.db.load(ctx, root)
	}
	if err != nil {
		return nil, err
	}
	return expect(root, tables)
}

// scan reads the whole index and returns every mismatch, and the _version
// of every document whose version is ahead of any projector could have
// written. A version does not change unless the document is written again,
// and projector cannot write it again, so the versions are not re-checked.
func (c *checker) scan(ctx context.Context, view string, root *node, exp expected) (map[string]mismatch, map[string]int64, error) {
	bad := map[string]mismatch{}
	ahead := map[string]int64{}
	seen := make(map[string]bool, len(exp))
	limit := c.versionLimit
	var done int64
	err := scanIndex(ctx, c.client, c.alias, "true", func(h hit, total int64) error {
		seen[h.ID] = true
		if limit > 0 && h.Version > limit {
			ahead[h.ID] = h.Version
		}
		if m, ok := compare(root, exp, h.ID, h.Source, true); !ok {
			bad[h.ID] = m
		}
		if done++; c.opts.Progress != nil && (done%pageSize == 0 || done == total) {
			c.opts.Progress(view, done, total)
		}
		return nil
	})
	if errors.Is(err, errNoIndex) {
		c.log.Warn("the view's alias does not exist; every document counts as missing", "view", view, "alias", c.alias)
	} else if err != nil {
		return nil, nil, err
	}
	for id, want := range exp {
		if !seen[id] {
			bad[id] = mismatch{want: want}
		}
	}
	return bad, ahead, nil
}

// compare checks one document id; found says whether the index has it.
func compare(root *node, exp expected, id string, source json.RawMessage, found bool) (mismatch, bool) {
	want := exp[id]
	if !found {
		return mismatch{want: want}, want == nil
	}
	got, err := canonSource(root, source, false)
	if err != nil {
		got = append([]byte(nil), source...) // unreadable: reported as it is
	}
	return mismatch{want: want, got: got, source: source}, want != nil && string(want) == string(got)
}

// report counts the drift and lists it in document _id order, a document
// both drifted and ahead once for each.
func (c *checker) report(view string, root *node, checked int, bad map[string]mismatch, ahead map[string]int64) ViewReport {
	vr := ViewReport{View: view, Checked: checked, Ahead: len(ahead)}
	type entry struct {
		id   string
		kind string
	}
	entries := make([]entry, 0, len(bad)+len(ahead))
	for id, m := range bad {
		entries = append(entries, entry{id, m.kind()})
		switch m.kind() {
		case KindMissing:
			vr.Missing++
		case KindExtra:
			vr.Extra++
		default:
			vr.Stale++
		}
	}
	for id := range ahead {
		entries = append(entries, entry{id, KindAhead})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(strings.Compare(a.id, b.id), strings.Compare(a.kind, b.kind))
	})
	shown := len(entries)
	if c.opts.ShowDiffs != 0 {
		shown = min(shown, max(c.opts.ShowDiffs, 0))
	}
	vr.Omitted = len(entries) - shown
	for _, e := range entries[:shown] {
		d := Diff{ID: e.id, Kind: e.kind}
		switch e.kind {
		case KindAhead:
			d.Fields = []FieldDiff{{Path: "_version", Want: fmt.Sprintf("<= %d", c.versionLimit), Got: strconv.FormatInt(ahead[e.id], 10)}}
		case KindStale:
			m := bad[e.id]
			got, err := canonSource(root, m.source, true)
			if err != nil {
				got = m.got
			}
			d.Fields = fieldDiffs(root, m.want, got)
		}
		vr.Diffs = append(vr.Diffs, d)
	}
	return vr
}
