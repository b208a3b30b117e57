package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/internal/daemon"
)

func newRebuildCommand(g *globals) *cobra.Command {
	var views []string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Rebuild views into a new index version and swap their aliases",
		Example: `  projector rebuild -c projector.yaml --view order_history
  projector rebuild --view order_history --view menu   # -c defaults to $PROJECTOR_CONFIG`,
		Long: `rebuild builds each named view into the next index version (order_history_v2
after _v1) from fresh snapshots of its sources, keeps it current with the
stream while it builds, then moves the alias to it in one atomic step and
deletes the old index: queries never see a half-built view. It runs the
daemon's pipeline and exits once every alias has moved, so stop
"projector run" on the same state directory first; a rebuild cut short is
finished by the next run. run also rebuilds by itself when a view's shape
changes in the configuration.

When the configuration has the admin API (admin.token_file) and projector
run answers on admin.listen, rebuild asks it instead, through
POST /v1/views/{view}/rebuild: the running daemon rebuilds the views while
it keeps streaming, and rebuild waits until every alias has moved (or,
with --no-wait, returns once the rebuilds started). Otherwise it runs the
rebuild itself as above. It exits 0 once the views are rebuilt, 1 when a
rebuild failed or was refused, and 2 for a wrong command line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(views) == 0 {
				return usagef("name the views to rebuild with --view")
			}
			cfg, log, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			api, err := newAdminAPI(cfg)
			if err != nil {
				return err
			}
			if api != nil {
				err := rebuildOnline(cmd.Context(), api, views, !noWait, cmd.OutOrStdout())
				if !errors.Is(err, errNoDaemon) {
					return err
				}
				log.Info("no projector answers on admin.listen; rebuilding here", "admin_listen", cfg.Admin.Listen)
			}
			limitMemory(log)
			opts := daemon.Options{Version: buildVersion(), Rebuild: views, StopWhenRebuilt: true}
			defer showSnapshotProgress(&opts, log)()
			return daemon.RunWith(cmd.Context(), cfg, opts, log)
		},
	}
	g.addConfigFlag(cmd)
	cmd.Flags().StringSliceVar(&views, "view", nil, "view to rebuild (repeatable)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "through the admin API, return once the rebuilds started instead of when the aliases moved")
	return cmd
}
