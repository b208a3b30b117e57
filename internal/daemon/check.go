package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
)

// CheckResult is one line of `projector check`: what was checked, where,
// and, when it failed, what is wrong and how to fix it.
type CheckResult struct {
	Scope string // "source orders", "sink", "views"
	Name  string
	Err   error
	// Detail says what a passed check found, such as the search engine's
	// flavour and version.
	Detail string
}

// Check verifies everything `projector run` needs from the live servers,
// without changing anything: each source's connectivity, replication
// settings, privileges, tables, keys and replica identity; the views'
// columns and join types against the real schemas; the search engine's
// reachability and flavour. Every problem is reported, not the first.
func Check(ctx context.Context, cfg *config.Config) []CheckResult {
	var results []CheckResult
	schema := transform.Schema{}
	byName := cfg.TablesBySource()
	for _, name := range cfg.SourceNames {
		src := cfg.Sources[name]
		scope := "source " + name
		var tables []capture.Table
		for _, t := range byName[name] {
			tables = append(tables, capture.Table{Schema: t.Schema, Name: t.Name})
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := pgx.Connect(cctx, src.DSN)
		cancel()
		if err != nil {
			results = append(results, CheckResult{Scope: scope, Name: "connect to " + src.RedactedDSN(),
				Err: fmt.Errorf("%w; check the host, port, database name and credentials in sources.%s.dsn", err, name)})
			continue
		}
		results = append(results, CheckResult{Scope: scope, Name: "connect to " + src.RedactedDSN()})
		cs := capture.Source{Name: name, DSN: src.DSN, Tables: tables, Slot: src.Slot, Publication: src.Publication}
		for _, r := range capture.CheckPrerequisites(ctx, conn, cs) {
			results = append(results, CheckResult{Scope: scope, Name: r.Name, Err: r.Err, Detail: r.Detail})
		}
		cs.ExistingPublication, cs.Columns = publicationNeeds(cfg, name)
		for _, r := range capture.CheckPublication(ctx, conn, cs) {
			results = append(results, CheckResult{Scope: scope, Name: r.Name, Detail: r.Detail, Err: r.Err})
		}
		infos, err := capture.Describe(ctx, conn, tables)
		conn.Close(context.Background())
		if err != nil {
			results = append(results, CheckResult{Scope: scope, Name: "read table definitions", Err: err})
			continue
		}
		schema[name] = infos
	}
	if len(schema) == len(byName) {
		_, err := transform.Compile(cfg.Views, schema)
		results = append(results, CheckResult{Scope: "views", Name: "fields and joins match the source tables", Err: err})
	} else {
		results = append(results, CheckResult{Scope: "views", Name: "fields and joins match the source tables",
			Err: errors.New("not checked: fix the sources above first")})
	}
	results = append(results, checkSink(ctx, cfg.Sink))
	return results
}

func checkSink(ctx context.Context, s config.Sink) CheckResult {
	r := CheckResult{Scope: "sink", Name: "search engine reachable"}
	opts, err := SinkOptions(s)
	if err != nil {
		r.Err = err
		return r
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	client, err := sink.Connect(cctx, opts)
	if err != nil {
		r.Err = fmt.Errorf("%w; check sink.urls, credentials and TLS settings", err)
		return r
	}
	r.Detail = fmt.Sprintf("%s %s", client.Flavour, client.Version)
	return r
}
