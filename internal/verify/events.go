package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform/fold"
)

// An entity folded from published events has no table to read its rows
// from. verify folds the events the event table holds now, in order_by
// order, with the configured reducer; the reducer is configuration, the
// same for both sides, and fold is a pure function of the events. What it
// cannot check it says: events a stream of logical decoding messages
// carried are kept nowhere, and events housekeeping deleted from an
// outbox are gone, so the entities they built cannot be recomputed.

// entityCatalog adds the entities the views read to the catalog, described
// as projector describes them to its views, and returns the event tables
// to describe in their stead.
func (db *sources) entityCatalog(tables []config.TableRef) []config.TableRef {
	out := make([]config.TableRef, 0, len(tables))
	for _, t := range tables {
		s, ok := db.cfg.Stream(t)
		if !ok {
			out = append(out, t)
			continue
		}
		db.cat[t] = fold.NewShape(s).Info(t.Name)
		if et, ok := s.EventTable(t.Source); ok {
			out = append(out, et)
		}
	}
	return out
}

// uncheckable says why a view cannot be checked, or "" when it can: an
// entity it reads is folded from logical decoding messages.
func (db *sources) uncheckable(v *config.View) string {
	for _, t := range v.Tables() {
		if s, ok := db.cfg.Stream(t); ok && s.MessagePrefix != "" {
			return fmt.Sprintf("entity %q of source %q is folded from logical decoding messages (prefix %q), which no table keeps, so its documents cannot be recomputed from PostgreSQL; no document of the view was compared (%s)",
				t.Name, t.Source, s.MessagePrefix, keptWhere(s))
		}
	}
	return ""
}

// entityNote tells what a check of a view over entities folded from an
// event table stands on, or "" for a view of tables only.
func (db *sources) entityNote(v *config.View, events map[config.TableRef]int) string {
	var notes []string
	for _, t := range v.Tables() {
		s, ok := db.cfg.Stream(t)
		if !ok {
			continue
		}
		et, _ := s.EventTable(t.Source)
		notes = append(notes, fmt.Sprintf("entity %q folded from the %d events %s.%s holds now, and every document of the view compared with that fold; documents built from events deleted from it (outbox housekeeping) cannot be recomputed from PostgreSQL and show as drift (%s)",
			t.Name, events[t], et.Schema, et.Name, keptWhere(s)))
	}
	return strings.Join(notes, "; ")
}

// keptWhere says where the events verify cannot read are kept: projector's
// state keeps them with keep: all, which only projector reads.
func keptWhere(s config.EventStream) string {
	if s.Keep == config.KeepNone {
		return "keep: none, so projector keeps them nowhere either, and a changed reducer loses them too"
	}
	return "projector keeps them in its state's event log and folds them again when the reducer changes, but verify reads only PostgreSQL"
}

// loadEntity folds the events the event table holds into the entity's
// rows, each as projector renders it, in key order.
func (db *sources) loadEntity(ctx context.Context, tx pgx.Tx, t config.TableRef, cols []string) (*tableData, int, error) {
	s, _ := db.cfg.Stream(t)
	et, _ := s.EventTable(t.Source)
	reducer, err := fold.Compile(s)
	if err != nil {
		return nil, 0, fmt.Errorf("entity %s: %w", t.Name, err)
	}
	shape := fold.NewShape(s)
	c := s.Columns
	text := func(col string) string {
		if col == "" {
			return "NULL::text"
		}
		return "q." + pgx.Identifier{col}.Sanitize() + "::text"
	}
	payload := "NULL::text"
	if c.Payload != "" {
		payload = "q." + pgx.Identifier{c.Payload}.Sanitize()
	}
	sql := fmt.Sprintf(`SELECT %s, %s, %s, %s, %s, %s FROM %s q ORDER BY q.%s, q.%s`,
		text(c.ID), text(c.Type), text(c.AggregateType), text(c.AggregateID), payloadText(payload), text(c.Timestamp),
		pgx.Identifier{et.Schema, et.Name}.Sanitize(), pgx.Identifier{s.OrderBy}.Sanitize(), pgx.Identifier{c.ID}.Sanitize())
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return nil, 0, fmt.Errorf("read events of entity %s from %s.%s: %w", t.Name, et.Schema, et.Name, err)
	}
	defer rows.Close()
	states := map[string]map[string]any{}
	var order []string
	events := 0
	for rows.Next() {
		var id, typ, aggType, aggID, body, ts *string
		if err := rows.Scan(&id, &typ, &aggType, &aggID, &body, &ts); err != nil {
			return nil, 0, fmt.Errorf("read events of entity %s: %w", t.Name, err)
		}
		events++
		if typ == nil || aggID == nil || (s.AggregateType != "" && deref(aggType) != s.AggregateType) {
			continue
		}
		ev := fold.Event{ID: deref(id), Type: *typ, AggregateType: deref(aggType), AggregateID: *aggID, Timestamp: deref(ts)}
		if body != nil {
			if ev.Payload, err = fold.Decode([]byte(*body)); err != nil {
				continue // dead-lettered by projector too
			}
		}
		next, outcome, err := reducer.Fold(states[ev.AggregateID], ev)
		if err != nil {
			continue // dead-lettered; the entity keeps its state
		}
		switch outcome {
		case fold.Deleted:
			delete(states, ev.AggregateID)
		case fold.Upserted:
			if _, err := shape.Row(ev.AggregateID, next); err != nil {
				continue // refused by projector too
			}
			if _, seen := states[ev.AggregateID]; !seen {
				order = append(order, ev.AggregateID)
			}
			states[ev.AggregateID] = next
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read events of entity %s: %w", t.Name, err)
	}
	info := db.cat[t]
	td := &tableData{cols: cols, colIdx: map[string]int{}, indexes: map[string]map[string][]int{}}
	types := make([]colType, len(cols))
	for i, col := range cols {
		td.colIdx[col] = i
		c, _ := info.Column(col)
		types[i] = colType{Base: c.Base, Array: c.Array}
	}
	for _, id := range order {
		st, ok := states[id]
		if !ok {
			continue // deleted since
		}
		row, _ := shape.Row(id, st) // checked when folded
		raw := make([]string, len(cols))
		for i, col := range cols {
			v, ok := row[col]
			if !ok {
				v = nil
			}
			raw[i] = string(capture.AppendValue(nil, v))
		}
		if err := td.add(info.Key, types, raw); err != nil {
			return nil, 0, fmt.Errorf("entity %s %s: %w", t.Name, id, err)
		}
	}
	return td, events, nil
}

// payloadText reads a payload column of any of the accepted types as the
// text of its JSON: bytea is taken as UTF-8 JSON.
func payloadText(col string) string {
	return fmt.Sprintf("CASE WHEN pg_typeof(%[1]s) = 'bytea'::regtype THEN convert_from(%[1]s::text::bytea, 'UTF8') ELSE %[1]s::text END", col)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
