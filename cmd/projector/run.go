package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/internal/daemon"
)

func newRunCommand(g *globals) *cobra.Command {
	var standby bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the daemon: capture changes and keep the views' indices up to date",
		Example: `  projector run -c projector.yaml
  projector run -c projector.yaml --standby            # take over when the active instance stops
  PROJECTOR_CONFIG=/etc/projector/projector.yaml projector run --log-format text`,
		Long: `run connects to every source database and the search engine, takes an initial
snapshot where needed, then streams changes into the views' indices until it
receives SIGTERM or SIGINT. It then stops reading, waits for in-flight
documents to be acknowledged, confirms their positions to the sources and
exits within shutdown.grace. On SIGHUP it reads the configuration file again
and applies it without stopping (see "Changing the configuration while
running" in the README); a file that does not check is rejected, logged, and
the running configuration kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			log.Info("starting projector", "version", buildVersion(), "config", cfg.File,
				"sources", len(cfg.Sources), "views", len(cfg.Views))
			limitMemory(log)
			ctx, stop := context.WithCancel(cmd.Context())
			defer stop()
			opts := daemon.Options{Version: buildVersion(), Standby: standby, Reload: reloadOnHangup(ctx)}
			defer showSnapshotProgress(&opts, log)()
			return daemon.RunWith(ctx, cfg, opts, log)
		},
	}
	g.addConfigFlag(cmd)
	cmd.Flags().BoolVar(&standby, "standby", false,
		"wait for a running projector with the same configuration to stop, then take over (active/standby pairs)")
	return cmd
}
