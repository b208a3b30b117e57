package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/admin"
)

func newSnapshotCommand(g *globals) *cobra.Command {
	var req admin.SnapshotRequest
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Copy one table, or every table of a view, again into the running projector's views",
		Long: `snapshot asks the projector running with this configuration, through its
admin API, to copy again one table of a source (--source and --table) or
every table of a view (--view) while it keeps streaming, the equivalent of
Debezium's execute-snapshot signal: documents that drifted from the
database (edited or deleted in the index by hand) are written again.

It needs the admin API configured and projector running; without them there
is nothing to copy into, and "projector rebuild" rebuilds a view offline.
It exits 0 once the snapshot started, 1 when projector refused it or does
not answer, and 2 for a wrong command line.`,
		Example: `  projector snapshot -c projector.yaml --source orders --table public.orders
  projector snapshot --view order_history`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (req.View == "") == (req.Source == "" && req.Table == "") || (req.View == "" && (req.Source == "" || req.Table == "")) {
				return usagef("name a table with --source and --table, or a view with --view")
			}
			cfg, err := config.Load(g.configFile)
			if err != nil {
				return err
			}
			api, err := newAdminAPI(cfg)
			if err != nil {
				return err
			}
			if api == nil {
				return fmt.Errorf("snapshot needs the admin API of a running projector: set admin.token_file in %s and restart projector", cfg.File)
			}
			body, err := json.Marshal(req)
			if err != nil {
				return err
			}
			if err := api.do(cmd.Context(), http.MethodPost, "/v1/snapshot", bytes.NewReader(body), nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "snapshot started; projector status shows its progress")
			return nil
		},
	}
	g.addConfigFlag(cmd)
	cmd.Flags().StringVar(&req.Source, "source", "", "source of the table to copy")
	cmd.Flags().StringVar(&req.Table, "table", "", "table to copy, schema.table or a name in public")
	cmd.Flags().StringVar(&req.View, "view", "", "view whose tables to copy")
	return cmd
}
