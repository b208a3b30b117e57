package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/capture/envelope"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/daemon"
	"github.com/projector-dev/projector/transform"
)

func newTailCommand(g *globals) *cobra.Command {
	var sources []string
	format := string(envelope.Projector)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the events of new changes as JSON lines, without acknowledging anything",
		Long: `tail follows changes committed from now on and prints each as an event,
one JSON object per line on stdout (logs go to stderr). It reads through a
temporary replication slot that disappears when tail exits, so the daemon's
slot and position are untouched and tail may run beside it.

--format picks the event format: projector (projector's own, the default),
debezium (Debezium's change event envelope) or cloudevents (CloudEvents 1.0,
structured JSON). docs/events.md describes each. The domain events a source
publishes for its entities (sources.<name>.events) follow the changes that
carry them, as {"kind":"published",...} lines in every format.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := envelope.ParseFormat(format)
			if err != nil {
				return &usageError{fmt.Errorf("--format: %w", err)}
			}
			cfg, log, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			names, err := pickSources(cfg, sources)
			if err != nil {
				return err
			}
			encoders := map[string]envelope.Encoder{}
			for _, name := range names {
				if encoders[name], err = tailEncoder(f, cfg, name); err != nil {
					return err
				}
			}
			var mu sync.Mutex
			out := cmd.OutOrStdout()
			entities := transform.EntitiesOf(cfg)
			var line []byte
			print := func(_ context.Context, txn *capture.Transaction) error {
				mu.Lock()
				defer mu.Unlock()
				for i := range txn.Changes {
					var err error
					if line, err = encoders[txn.Source].Append(line[:0], txn, i); err != nil {
						return err
					}
					if _, err := out.Write(append(line, '\n')); err != nil {
						return fmt.Errorf("write event: %w", err)
					}
				}
				return writePublished(out, entities, txn)
			}
			grp, ctx := errgroup.WithContext(cmd.Context())
			for _, name := range names {
				src := daemon.CaptureSource(cfg, name)
				grp.Go(func() error { return capture.Tail(ctx, src, log, print) })
			}
			return grp.Wait()
		},
		Example: `  projector tail -c projector.yaml
  projector tail -c projector.yaml --source orders > events.jsonl`,
	}
	g.addConfigFlag(cmd)
	cmd.Flags().StringSliceVar(&sources, "source", nil, "source to follow (repeatable; default: every source)")
	cmd.Flags().StringVar(&format, "format", format, "event format: projector, debezium or cloudevents")
	return cmd
}

// tailEncoder returns the encoder of format f for the source name.
func tailEncoder(f envelope.Format, cfg *config.Config, name string) (envelope.Encoder, error) {
	src := cfg.Sources[name]
	dsn, err := pgconn.ParseConfig(src.DSN)
	if err != nil {
		return nil, fmt.Errorf("source %q: read dsn: %w", name, err)
	}
	return envelope.New(f, envelope.Options{Types: src.EventTypeNames(), Database: dsn.Database, Version: buildVersion()})
}

// pickSources checks the --source names against the configuration.
func pickSources(cfg *config.Config, names []string) ([]string, error) {
	if len(names) == 0 {
		return cfg.SourceNames, nil
	}
	for _, n := range names {
		if _, ok := cfg.Sources[n]; !ok {
			return nil, usagef("--source %q: no such source in %s; sources are %v", n, cfg.File, cfg.SourceNames)
		}
	}
	return names, nil
}
