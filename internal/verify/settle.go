package verify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/ctxtime"
)

// settle tells drift from changes still on their way to the index. It
// re-checks the mismatched documents, and only those, in rounds: a round
// notes each source's WAL position, reads the documents' sources, waits
// until the daemon has confirmed that position on each source's slot
// (projector confirms a position only once the documents of everything
// before it are in the index), reads the index and the sources again. A
// document that still differs although the daemon had caught up and whose
// sources did not change during the round is drift and is not looked at
// again; a document whose sources changed is checked in the next round. A
// slot that does not exist or that no daemon is reading cannot move the
// index, so it counts as caught up at once. No round waits longer than the
// daemon needs, and the whole settling ends by Options.Settle: what is
// still unsettled then is reported as it stands.
func (c *checker) settle(ctx context.Context, view string, root *node, bad map[string]mismatch) (map[string]mismatch, error) {
	if c.opts.Settle < 0 || len(bad) == 0 {
		return bad, nil
	}
	deadline := time.Now().Add(c.opts.Settle)
	drift := map[string]mismatch{}
	warned := false
	for len(bad) > 0 {
		c.log.Debug("re-checking mismatches", "view", view, "documents", len(bad))
		ids := slices.Sorted(maps.Keys(bad))
		marks, werr := c.db.walPositions(ctx, root)
		known := werr == nil
		if !known && !warned {
			c.log.Warn("cannot tell whether the daemon has caught up; re-checking mismatches until the settle period ends",
				"view", view, "error", werr)
			warned = true
		}
		before, err := c.expected(ctx, root, ids)
		if err != nil {
			return nil, err
		}
		caught := false
		if known {
			if caught, err = c.db.waitConfirmed(ctx, marks, deadline, c.opts.pollInterval()); err != nil {
				return nil, err
			}
		} else if err := ctxtime.Sleep(ctx, min(c.opts.pollInterval(), time.Until(deadline))); err != nil {
			return nil, err
		}
		if err := refresh(ctx, c.client, c.alias); err != nil {
			return nil, err
		}
		docs, err := fetchIDs(ctx, c.client, c.alias, ids)
		if err != nil {
			return nil, err
		}
		after, err := c.expected(ctx, root, ids)
		if err != nil {
			return nil, err
		}
		next := map[string]mismatch{}
		for _, id := range ids {
			h, found := docs[id]
			m, ok := compare(root, after, id, h.Source, found)
			switch {
			case ok:
			case caught && string(before[id]) == string(after[id]):
				drift[id] = m
			default:
				next[id] = m
			}
		}
		bad = next
		if len(bad) == 0 || !time.Now().Before(deadline) {
			break
		}
		// Sources that changed during the round are read again after a
		// pause, not back to back.
		if err := ctxtime.Sleep(ctx, min(50*time.Millisecond, time.Until(deadline))); err != nil {
			return nil, err
		}
	}
	maps.Copy(drift, bad)
	return drift, nil
}

// slotMark is the WAL position a source's slot must confirm.
type slotMark struct {
	source, slot string
	lsn          capture.LSN
}

// walPositions reads the current WAL position of every source the view
// reads. A source that cannot tell (a standby, say) is an error, and
// settling then falls back to re-checking until Options.Settle ends.
func (db *sources) walPositions(ctx context.Context, root *node) ([]slotMark, error) {
	var marks []slotMark
	names := map[string]bool{}
	root.walk(func(n *node) { names[n.Table.Source] = true })
	for _, name := range slices.Sorted(maps.Keys(names)) {
		src := db.cfg.Sources[name]
		slot := capture.Source{Name: name, Slot: src.Slot}.SlotName()
		var text string
		if err := db.conns[name].QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&text); err != nil {
			return nil, db.sourceErr(name, fmt.Errorf("read the WAL position: %w", err))
		}
		lsn, err := capture.ParseLSN(text)
		if err != nil {
			return nil, db.sourceErr(name, fmt.Errorf("read the WAL position: %w", err))
		}
		marks = append(marks, slotMark{source: name, slot: slot, lsn: lsn})
	}
	return marks, nil
}

// waitConfirmed polls the slots until each has confirmed its mark or no
// daemon is reading it; false when the deadline came first.
func (db *sources) waitConfirmed(ctx context.Context, marks []slotMark, deadline time.Time, poll time.Duration) (bool, error) {
	wait := 20 * time.Millisecond
	for {
		pending := false
		for _, m := range marks {
			done, err := db.slotPassed(ctx, m)
			if err != nil {
				return false, err
			}
			pending = pending || !done
		}
		if !pending {
			return true, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		if err := ctxtime.Sleep(ctx, min(wait, left)); err != nil {
			return false, err
		}
		wait = min(2*wait, poll)
	}
}

// slotPassed says whether nothing before m can still reach the index: the
// slot confirmed m, or it does not exist, or no daemon is reading it.
func (db *sources) slotPassed(ctx context.Context, m slotMark) (bool, error) {
	var active bool
	var confirmed *string
	err := db.conns[m.source].QueryRow(ctx, `SELECT active, confirmed_flush_lsn::text FROM pg_replication_slots
		WHERE slot_name = $1 AND database = current_database()`, m.slot).Scan(&active, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, db.sourceErr(m.source, fmt.Errorf("read slot %q: %w", m.slot, err))
	}
	if !active || confirmed == nil {
		return true, nil
	}
	lsn, err := capture.ParseLSN(*confirmed)
	if err != nil {
		return false, db.sourceErr(m.source, fmt.Errorf("read slot %q: %w", m.slot, err))
	}
	return lsn >= m.lsn, nil
}
