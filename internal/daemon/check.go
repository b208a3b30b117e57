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
		cs := CaptureSource(cfg, name)
		tables := cs.Tables
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := pgx.Connect(cctx, src.DSN)
		cancel()
		if err != nil {
			results = append(results, CheckResult{Scope: scope, Name: "connect to " + src.RedactedDSN(),
				Err: fmt.Errorf("%w; check the host, port, database name and credentials in sources.%s.dsn", err, name)})
			continue
		}
		results = append(results, CheckResult{Scope: scope, Name: "connect to " + src.RedactedDSN()})
		for _, r := range capture.CheckPrerequisites(ctx, conn, cs) {
			results = append(results, CheckResult{Scope: scope, Name: r.Name, Err: r.Err, Detail: r.Detail})
		}
		for _, r := range capture.CheckPublication(ctx, conn, cs) {
			results = append(results, CheckResult{Scope: scope, Name: r.Name, Detail: r.Detail, Err: r.Err})
		}
		results = append(results, checkSlot(ctx, conn, scope, cs))
		infos, err := capture.Describe(ctx, conn, tables)
		conn.Close(context.Background())
		if err != nil {
			results = append(results, CheckResult{Scope: scope, Name: "read table definitions", Err: err})
			continue
		}
		schema[name] = infos
	}
	if len(schema) == len(byName) {
		transform.AddEntities(schema, transform.EntitiesOf(cfg))
		_, err := transform.Compile(cfg.Views, schema)
		results = append(results, CheckResult{Scope: "views", Name: "fields and joins match the source tables", Err: err})
	} else {
		results = append(results, CheckResult{Scope: "views", Name: "fields and joins match the source tables",
			Err: errors.New("not checked: fix the sources above first")})
	}
	results = append(results, checkSink(ctx, cfg.Sink))
	return results
}

// checkSlot reports the source's replication slot as `projector slots`
// and the lag metrics see it.
func checkSlot(ctx context.Context, conn *pgx.Conn, scope string, src capture.Source) CheckResult {
	r := CheckResult{Scope: scope, Name: "replication slot " + src.SlotName()}
	info, err := capture.InspectSlot(ctx, conn, src.SlotName())
	switch {
	case err != nil:
		r.Err = err
	case !info.Exists:
		r.Detail = "not created yet; run creates it with the first snapshot"
	case info.WALStatus == "lost":
		r.Err = fmt.Errorf("slot %q is lost: the server removed WAL it still held for projector; run stops on it unless capture.on_slot_lost is rebootstrap, which takes a new snapshot of the source", info.Name)
	default:
		state := "inactive"
		if info.Active {
			state = "active"
		}
		r.Detail = fmt.Sprintf("%s, confirmed %s, %d bytes of WAL retained, %d bytes behind", state, info.Confirmed, info.RetainedBytes, info.LagBytes)
	}
	return r
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
