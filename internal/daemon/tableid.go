package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform/state"
)

// tableIdentity notices a table of a view dropped and created again under
// the same name, in one transaction or while projector was stopped. The
// table silently leaves the publication, its new rows never arrive, and
// the state still holds the old table's rows: logical replication says
// nothing, but the table's OID in the catalog changes. The OIDs are kept
// in the state, so a replacement while projector was stopped is noticed at
// the next start.
type tableIdentity struct {
	store  *state.Store
	tables map[string][]capture.Table // per source
	// known holds each source's recorded OIDs once read from the state.
	known map[string]map[string]uint32
}

func newTableIdentity(store *state.Store, streams []*capture.Stream) *tableIdentity {
	ti := &tableIdentity{store: store, tables: map[string][]capture.Table{}, known: map[string]map[string]uint32{}}
	for _, s := range streams {
		ti.tables[s.Source().Name] = s.Source().Tables
	}
	return ti
}

// check returns the tables of source whose OID is not the recorded one.
// Tables seen for the first time are recorded; a dropped table is left to
// the schema watch.
func (ti *tableIdentity) check(ctx context.Context, conn *pgx.Conn, source string) ([]capture.Table, error) {
	known, ok := ti.known[source]
	if !ok {
		var err error
		if known, err = ti.store.TableOIDs(source); err != nil {
			return nil, err
		}
		ti.known[source] = known
	}
	oids, err := capture.TableOIDs(ctx, conn, ti.tables[source])
	if err != nil {
		return nil, err
	}
	var replaced []capture.Table
	var fresh map[string]uint32
	for _, t := range ti.tables[source] {
		oid, ok := oids[t]
		if !ok {
			continue
		}
		was, seen := known[t.String()]
		switch {
		case !seen:
			if fresh == nil {
				fresh = maps.Clone(known)
				if fresh == nil {
					fresh = map[string]uint32{}
				}
			}
			fresh[t.String()] = oid
		case was != oid:
			replaced = append(replaced, t)
		}
	}
	if fresh != nil && len(replaced) == 0 {
		if err := ti.store.SetTableOIDs(source, fresh); err != nil {
			return nil, err
		}
		ti.known[source] = fresh
	}
	return replaced, nil
}

// checkIdentity looks for re-created tables of source; each is reported
// once, as an error of stage "schema" (m.schemaErrors), and the source is handed to
// m.replaced to be taken again from a new snapshot.
func (m *monitor) checkIdentity(ctx context.Context, conn *pgx.Conn, source string) {
	replaced, err := m.identity.check(ctx, conn, source)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("cannot compare the identity of the source's tables with the state", "source", source, "error", err)
		}
		return
	}
	if len(replaced) == 0 || m.replacing[source] != "" {
		return
	}
	problem := fmt.Sprintf("source %s: table %v was dropped and created again; taking a new snapshot of the source and rebuilding its views",
		source, replaced)
	m.replacing[source] = problem
	m.log.Error("source table re-created under a view; its changes no longer arrive on the old identity, so the source is taken again from a new snapshot",
		"source", source, "tables", fmt.Sprint(replaced))
	m.schemaErrors.Inc()
	if m.replaced != nil {
		m.replaced(source)
	}
}

// errTableReplaced ends a run of the pipeline whose sources had a table
// re-created: they are reset and the pipeline starts over.
var errTableReplaced = errors.New("a source table was re-created")

// replacedSources collects the sources to reset once the pipeline stopped:
// resetting while the engine still applies their changes would be undone
// by its next checkpoint.
type replacedSources struct {
	mu      sync.Mutex
	sources []string
	restart context.CancelCauseFunc
}

func (r *replacedSources) add(source string) {
	r.mu.Lock()
	r.sources = append(r.sources, source)
	r.mu.Unlock()
	r.restart(errTableReplaced)
}

// reset forgets what the state applied of every collected source, and
// the identities of its tables, so that the next run takes it again from a
// new snapshot and records the new tables.
func (r *replacedSources) reset(store *state.Store, log *slog.Logger) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sources {
		if err := store.ResetSource(s); err != nil {
			return err
		}
		if err := store.SetTableOIDs(s, nil); err != nil {
			return err
		}
		log.Warn("source reset after a table was re-created; its views are rebuilt from a new snapshot", "source", s)
	}
	return nil
}
