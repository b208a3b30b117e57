package daemon

import (
	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// CaptureSource is the configured source name as capture reads it: its
// connection, slot and publication, the tables its views read, in the
// order of cfg.TablesBySource, how its publication is owned, and which
// columns the views read of each table. `projector run`, `check`, `tail`
// and `slots` all see a source through it.
func CaptureSource(cfg *config.Config, name string) capture.Source {
	src := cfg.Sources[name]
	cs := capture.Source{Name: name, DSN: src.DSN, Slot: src.Slot, Publication: src.Publication}
	for _, t := range cfg.TablesBySource()[name] {
		cs.Tables = append(cs.Tables, capture.Table{Schema: t.Schema, Name: t.Name})
	}
	cs.ExistingPublication, cs.Columns = publicationNeeds(cfg, name)
	return cs
}
