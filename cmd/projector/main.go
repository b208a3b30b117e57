// Command projector keeps CQRS query views in Elasticsearch or OpenSearch up
// to date from the logical replication streams of PostgreSQL service
// databases.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := execute(ctx, newRootCommand(), os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "projector",
		Short: "Keep search-engine views up to date from PostgreSQL logical replication",
		Example: `  projector check -c projector.yaml    # every prerequisite, OK or FAIL with a fix
  projector run -c projector.yaml      # the daemon
  PROJECTOR_CONFIG=/etc/projector/projector.yaml projector verify`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g := &globals{}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "", "log format, json or text (default: log.format from the configuration)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn or error (default: log.level from the configuration)")
	root.AddCommand(newConfigCommand(g))
	root.AddCommand(newVersionCommand())
	root.AddCommand(newRunCommand(g), newCheckCommand(g), newTailCommand(g), newSlotsCommand(g), newVerifyCommand(g), newRebuildCommand(g))
	root.AddCommand(newHealthCommand(g))
	root.AddCommand(newStatusCommand(g), newSnapshotCommand(g))
	return root
}
