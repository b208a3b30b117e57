package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/sink"
)

// Run checks the selected views of cfg: it reads their source tables, joins
// them into the documents each view should hold and compares those with the
// documents behind the view's alias (cfg.Sink.IndexPrefix + view name).
// The error reports a failure to verify, never drift; drift is in the
// Report.
func Run(ctx context.Context, cfg *config.Config, client *sink.Client, opts Options, log *slog.Logger) (Report, error) {
	opts = opts.withDefaults()
	views, err := selectViews(cfg, opts.Views)
	if err != nil {
		return Report{}, err
	}
	db, err := openSources(ctx, cfg, views)
	if err != nil {
		return Report{}, err
	}
	defer db.close()
	var rep Report
	for _, v := range views {
		if why := db.uncheckable(v); why != "" {
			log.Warn("view not verified", "view", v.Name, "reason", why)
			rep.Views = append(rep.Views, ViewReport{View: v.Name, Unchecked: why})
			continue
		}
		c := &checker{db: db, client: client, opts: opts, log: log, alias: cfg.Sink.IndexPrefix + v.Name,
			versionLimit: opts.versionLimit()}
		vr, err := c.view(ctx, v)
		if err != nil {
			return rep, fmt.Errorf("verify view %q: %w", v.Name, err)
		}
		log.Info("verified view", "view", v.Name, "checked", vr.Checked,
			"missing", vr.Missing, "stale", vr.Stale, "extra", vr.Extra, "version_ahead", vr.Ahead)
		vr.Note = db.entityNote(v, db.events)
		rep.Views = append(rep.Views, vr)
	}
	return rep, nil
}

func selectViews(cfg *config.Config, names []string) ([]*config.View, error) {
	if len(names) == 0 {
		out := make([]*config.View, len(cfg.Views))
		for i := range cfg.Views {
			out[i] = &cfg.Views[i]
		}
		return out, nil
	}
	var out []*config.View
	var errs []error
	for _, name := range names {
		found := false
		for i := range cfg.Views {
			if cfg.Views[i].Name == name {
				out, found = append(out, &cfg.Views[i]), true
				break
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("no view is named %q", name))
		}
	}
	return out, errors.Join(errs...)
}

// sources holds one connection per source database and the catalog of
// every table the selected views read.
type sources struct {
	cfg   *config.Config
	conns map[string]*pgx.Conn
	cat   catalog
	// events counts the events folded into each entity (events.go).
	events map[config.TableRef]int
}

func openSources(ctx context.Context, cfg *config.Config, views []*config.View) (*sources, error) {
	db := &sources{cfg: cfg, conns: map[string]*pgx.Conn{}, cat: catalog{}, events: map[config.TableRef]int{}}
	bySource := map[string][]config.TableRef{}
	for _, v := range views {
		for _, t := range v.Tables() {
			bySource[t.Source] = append(bySource[t.Source], t)
		}
	}
	for name, tables := range bySource {
		src, ok := cfg.Sources[name]
		if !ok {
			db.close()
			return nil, fmt.Errorf("no source is named %q", name)
		}
		src.Name = name
		conn, err := connect(ctx, src)
		if err != nil {
			db.close()
			return nil, err
		}
		db.conns[name] = conn
		if err := describe(ctx, conn, db.entityCatalog(tables), db.cat); err != nil {
			db.close()
			return nil, fmt.Errorf("source %q (%s): %w", name, src.RedactedDSN(), err)
		}
	}
	return db, nil
}

func (db *sources) close() {
	for _, c := range db.conns {
		_ = c.Close(context.Background()) // read-only sessions: nothing to lose
	}
}
