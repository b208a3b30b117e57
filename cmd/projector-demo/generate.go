package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/internal/fooddelivery"
)

func newGenerateCommand(dsns *dsnFlags) *cobra.Command {
	var (
		w        fooddelivery.Workload
		duration time.Duration
		every    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Keep changing the service databases like the live services would",
		Long: `generate makes a randomized mix of changes on every table: orders placed,
advanced, cancelled and deleted, line items added, changed and moved between
orders, consumers, restaurants and menu items renamed and deleted, deliveries
dispatched and completed, many of them in multi-statement transactions.

It runs until --duration has passed, --ops changes are made or it is
interrupted, and logs a progress line every --progress. Run load first.`,
		Example: "  projector-demo generate --rate 200 --duration 10m",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			dbs, err := fooddelivery.Connect(ctx, dsns.dsns)
			if err != nil {
				return err
			}
			defer dbs.Close()
			return generate(ctx, dbs, w, every, newLogger())
		},
	}
	f := cmd.Flags()
	f.Float64Var(&w.Rate, "rate", 100, "changes per second; 0 for as fast as the databases allow")
	f.DurationVar(&duration, "duration", 0, "stop after this long; 0 to run until interrupted")
	f.IntVar(&w.Ops, "ops", 0, "stop after this many changes; 0 for no limit")
	f.IntVar(&w.Workers, "workers", 4, "concurrent connections making changes")
	f.Uint64Var(&w.Seed, "seed", 1, "seed of the random choices")
	f.DurationVar(&every, "progress", 5*time.Second, "interval between progress lines")
	return cmd
}

// generate runs the workload and logs its progress until it ends.
func generate(ctx context.Context, dbs *fooddelivery.DBs, w fooddelivery.Workload, every time.Duration, log *slog.Logger) error {
	w.Tally = &fooddelivery.Tally{}
	start := time.Now()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		reportProgress(w.Tally, every, start, stop, log)
	}()
	counts, err := w.Run(ctx, dbs)
	close(stop)
	<-done
	log.Info("done", progressAttrs(counts, time.Since(start))...)
	return err
}

func reportProgress(tally *fooddelivery.Tally, every time.Duration, start time.Time, stop <-chan struct{}, log *slog.Logger) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
			log.Info("progress", progressAttrs(tally.Snapshot(), time.Since(start))...)
		}
	}
}

func progressAttrs(c fooddelivery.Counts, elapsed time.Duration) []any {
	rate := float64(c.Total()) / max(elapsed.Seconds(), 0.001)
	return []any{
		"elapsed", elapsed.Round(time.Second), "changes", c.Total(), "per_second", int(rate),
		"orders_placed", c[fooddelivery.OpOrderPlace], "renames",
		c[fooddelivery.OpRestaurantRename] + c[fooddelivery.OpConsumerRename] + c[fooddelivery.OpMenuItemRename],
		"line_items_moved", c[fooddelivery.OpLineItemMove], "deliveries", c[fooddelivery.OpDeliveryCreate],
		"skipped", c[fooddelivery.OpSkipped],
	}
}
