package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/daemon"
)

func newSlotsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slots",
		Short: "List or drop projector's replication slots",
		Example: `  projector slots list -c projector.yaml
  projector slots drop -c projector.yaml --source orders --yes`,
		Long: `slots shows, for every source, projector's replication slot: whether it is
active, its confirmed position, the WAL the server retains for it and how far
it trails the server. "slots drop" removes projector's slots (and only
those), for instance before decommissioning a view database: a dropped slot
stops holding WAL, and the source needs a new snapshot on the next run.`,
	}
	g.addConfigFlag(cmd)
	cmd.PersistentFlags().AddFlagSet(cmd.Flags())

	list := &cobra.Command{
		Use:   "list",
		Short: "Show projector's slots with retained WAL and lag",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SOURCE\tSLOT\tACTIVE\tWAL STATUS\tCONFIRMED\tRETAINED WAL\tLAG")
			for _, name := range cfg.SourceNames {
				info, err := inspect(cmd.Context(), cfg, name)
				switch {
				case err != nil:
					fmt.Fprintf(w, "%s\t%s\t-\t-\t-\t-\t%v\n", name, info.Name, err)
				case !info.Exists:
					fmt.Fprintf(w, "%s\t%s\tno slot yet\t-\t-\t-\t-\n", name, info.Name)
				default:
					fmt.Fprintf(w, "%s\t%s\t%t\t%s\t%s\t%s\t%s\n", name, info.Name, info.Active, info.WALStatus,
						info.Confirmed, bytesText(info.RetainedBytes), bytesText(info.LagBytes))
				}
			}
			return w.Flush()
		},
		Example: "  projector slots list -c projector.yaml",
	}
	var sources []string
	var yes bool
	drop := &cobra.Command{
		Use:   "drop",
		Short: "Drop projector's slots (all sources, or those named by --source)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			names, err := pickSources(cfg, sources)
			if err != nil {
				return err
			}
			if !yes {
				return fmt.Errorf("dropping slots of %v loses the changes they hold; run again with --yes to do it", names)
			}
			for _, name := range names {
				slot := daemon.CaptureSource(cfg, name).SlotName()
				err := withSource(cmd.Context(), cfg, name, func(conn *pgx.Conn) error {
					return capture.DropSlot(cmd.Context(), conn, slot)
				})
				if err != nil {
					return err
				}
				log.Info("dropped slot; the next run takes a new snapshot of the source only if its state is reset (capture.on_slot_lost: rebootstrap)",
					"source", name, "slot", slot)
			}
			return nil
		},
		Example: `  projector slots drop -c projector.yaml --yes
  projector slots drop -c projector.yaml --source orders --yes`,
	}
	drop.Flags().StringSliceVar(&sources, "source", nil, "source whose slot to drop (repeatable; default: every source)")
	drop.Flags().BoolVar(&yes, "yes", false, "really drop the slots")
	cmd.AddCommand(list, drop)
	return cmd
}

func inspect(ctx context.Context, cfg *config.Config, name string) (capture.SlotInfo, error) {
	slot := daemon.CaptureSource(cfg, name).SlotName()
	info := capture.SlotInfo{Name: slot}
	err := withSource(ctx, cfg, name, func(conn *pgx.Conn) error {
		var err error
		info, err = capture.InspectSlot(ctx, conn, slot)
		return err
	})
	return info, err
}

// withSource runs fn on an ordinary connection to the source.
func withSource(ctx context.Context, cfg *config.Config, name string, fn func(*pgx.Conn) error) error {
	src := cfg.Sources[name]
	conn, err := pgx.Connect(ctx, src.DSN)
	if err != nil {
		return fmt.Errorf("connect to source %q (%s): %w", name, src.RedactedDSN(), err)
	}
	defer conn.Close(context.Background())
	return fn(conn)
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
