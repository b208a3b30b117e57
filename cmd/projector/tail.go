package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/daemon"
	"github.com/projector-dev/projector/transform"
)

// eventLine is one line of `projector tail`: a domain event with the
// position of the transaction it belongs to.
type eventLine struct {
	transform.Event
	XID        uint32      `json:"xid"`
	CommitLSN  capture.LSN `json:"commit_lsn"`
	CommitTime time.Time   `json:"commit_time"`
}

func newTailCommand(g *globals) *cobra.Command {
	var sources []string
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the domain events of new changes as JSON lines, without acknowledging anything",
		Long: `tail follows changes committed from now on and prints each as a domain event,
one JSON object per line on stdout (logs go to stderr). It reads through a
temporary replication slot that disappears when tail exits, so the daemon's
slot and position are untouched and tail may run beside it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			names, err := pickSources(cfg, sources)
			if err != nil {
				return err
			}
			var mu sync.Mutex
			enc := json.NewEncoder(cmd.OutOrStdout())
			print := func(_ context.Context, txn *capture.Transaction) error {
				ev := transform.FromCapture(txn, cfg.Sources[txn.Source].EventTypeNames())
				mu.Lock()
				defer mu.Unlock()
				for _, e := range ev.Events {
					e.Before, e.After = printableRow(e.Before), printableRow(e.After)
					if err := enc.Encode(eventLine{Event: e, XID: ev.XID, CommitLSN: ev.CommitLSN, CommitTime: ev.CommitTime}); err != nil {
						return fmt.Errorf("write event: %w", err)
					}
				}
				return nil
			}
			grp, ctx := errgroup.WithContext(cmd.Context())
			for _, name := range names {
				src := daemon.CaptureSource(cfg, name)
				grp.Go(func() error { return capture.Tail(ctx, src, log, print) })
			}
			return grp.Wait()
		},
	}
	g.addConfigFlag(cmd)
	cmd.Flags().StringSliceVar(&sources, "source", nil, "source to follow (repeatable; default: every source)")
	return cmd
}

// printableRow returns row with every value JSON can carry: a time whose
// year has more than four digits or is before 1 BC, which
// time.Time.MarshalJSON refuses, becomes the same RFC 3339 text with the
// year widened (ISO 8601's expanded years, "10000-01-01T00:00:00Z"), and a
// non-finite float, which JSON has no number for, becomes PostgreSQL's
// text for it: "NaN", "Infinity" or "-Infinity". Every event the server
// sends is printed; none stops tail.
func printableRow(row capture.Row) capture.Row {
	if row == nil {
		return nil
	}
	out := make(capture.Row, len(row))
	for col, v := range row {
		out[col] = printable(v)
	}
	return out
}

func printable(v any) any {
	switch v := v.(type) {
	case time.Time:
		if y := v.Year(); y < 0 || y > 9999 {
			return v.Format(time.RFC3339Nano)
		}
	case float64:
		return printableFloat(v)
	case float32:
		return printableFloat(float64(v))
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = printable(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = printable(e)
		}
		return out
	}
	return v
}

func printableFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// pickSources checks the --source names against the configuration.
func pickSources(cfg *config.Config, names []string) ([]string, error) {
	if len(names) == 0 {
		return cfg.SourceNames, nil
	}
	for _, n := range names {
		if _, ok := cfg.Sources[n]; !ok {
			return nil, fmt.Errorf("--source %q: no such source in %s; sources are %v", n, cfg.File, cfg.SourceNames)
		}
	}
	return names, nil
}
