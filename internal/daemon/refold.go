package daemon

import (
	"fmt"
	"slices"
	"strings"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/transform"
	"github.com/projector-dev/projector/transform/state"
)

// A view of a source that publishes domain events is rebuilt (its reducer
// or its shape changed, or it was added) without resetting the source:
// the entities it reads are folded again from the event logs the state
// keeps (transform.Refold), with the current reducers, before the first
// transaction is applied, and its plain tables are copied in chunks as for
// any other view (reload_copy.go). The source keeps its slot, so the
// events published while projector was stopped arrive after the refold
// and fold onto it, in commit order; a fresh snapshot would have lost the
// messages and the outbox rows deleted in that time.

// refoldCopies plans the rebuild of view cv from refolds and copies: the
// plain tables to copy by source, each source's root table last, and the
// entities to fold again. why says, when the view cannot be rebuilt this
// way, what prevents it.
func refoldCopies(store *state.Store, cfg *config.Config, cv *config.View) (copies map[string][]capture.Table, entities []config.TableRef, why string, err error) {
	copies = map[string][]capture.Table{}
	b := store.NewBatch()
	defer b.Close()
	for _, t := range copyOrder(cv) {
		if !t.IsEntity() {
			table := capture.Table{Schema: t.Schema, Name: t.Name}
			if slices.Contains(eventTables(cfg.Sources[t.Source], t.Source), table) {
				return nil, nil, fmt.Sprintf("the view reads event table %s of source %s as a table: copying it would fold its events again", table, t.Source), nil
			}
			if !slices.Contains(copies[t.Source], table) {
				copies[t.Source] = append(copies[t.Source], table)
			}
			continue
		}
		if slices.Contains(entities, t) {
			continue
		}
		s, ok := cfg.Stream(t)
		if !ok {
			return nil, nil, fmt.Sprintf("entity %s of source %s is not configured", t.Name, t.Source), nil
		}
		if s.Keep == config.KeepNone {
			return nil, nil, fmt.Sprintf("entity %s of source %s keeps no events (keep: none), so it cannot be folded again from its event log", t.Name, t.Source), nil
		}
		complete, err := b.EventLogComplete(t.Source, t.Name)
		if err != nil {
			return nil, nil, "", err
		}
		if !complete {
			return nil, nil, fmt.Sprintf("the state holds no complete event log of entity %s of source %s (first start, lost state directory, or keep: none before)", t.Name, t.Source), nil
		}
		entities = append(entities, t)
	}
	return copies, entities, "", nil
}

// readsEvents reports whether view cv reads a folded entity or a source
// that publishes events.
func readsEvents(cfg *config.Config, cv *config.View) bool {
	for _, t := range cv.Tables() {
		src := cfg.Sources[t.Source]
		if t.IsEntity() || len(src.Events) > 0 || len(eventTables(src, t.Source)) > 0 {
			return true
		}
	}
	return false
}

// refolds lists what the engine folds again before it applies the first
// transaction: the entities of every view built from refolds, each with a
// token naming its reducers and the index versions the refold fills.
func (p *pipeline) refolds(cfg *config.Config) []transform.Refold {
	tokens := map[config.TableRef][]string{}
	var order []config.TableRef
	for _, v := range p.views {
		vi := p.indices[v.Name]
		if vi == nil || len(vi.refolds) == 0 || vi.copies == nil {
			continue // copies dropped: a fresh snapshot refolds instead (spreadCopies)
		}
		cv := &cfg.Views[slices.IndexFunc(cfg.Views, func(c config.View) bool { return c.Name == v.Name })]
		for _, t := range vi.refolds {
			if _, ok := tokens[t]; !ok {
				order = append(order, t)
			}
			tokens[t] = append(tokens[t], transform.ReducerDigest(cfg, cv)+"@"+vi.Target)
		}
	}
	out := make([]transform.Refold, 0, len(order))
	for _, t := range order {
		slices.Sort(tokens[t])
		out = append(out, transform.Refold{Source: t.Source, Entity: t.Name, Token: strings.Join(tokens[t], ",")})
	}
	return out
}
