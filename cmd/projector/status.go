package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/admin"
)

func newStatusCommand(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each view's state, index, documents and lag, from the running projector",
		Long: `status asks the projector running with this configuration, through its admin
API (admin.listen, with the token of admin.token_file), for the state of
every view: snapshotting, streaming, rebuilding (the alias still serves the
previous index) or stopped (with why), the index its documents go to, how
many documents it holds and the lag of each source it reads.

It needs the admin API configured and projector running: it exits 1 when
either is not the case, saying which, and 0 once it printed the status.`,
		Example: `  projector status -c projector.yaml
  projector status --json | jq '.views[] | select(.state != "streaming")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(g.configFile)
			if err != nil {
				return err
			}
			api, err := newAdminAPI(cfg)
			if err != nil {
				return err
			}
			if api == nil {
				return fmt.Errorf("status needs the admin API: set admin.token_file in %s (see docs/configuration.md) and restart projector", cfg.File)
			}
			views, err := api.views(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"views": views})
			}
			printStatus(cmd.OutOrStdout(), views)
			return nil
		},
	}
	g.addConfigFlag(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the admin API's answer as JSON")
	return cmd
}

// printStatus writes one line per view.
func printStatus(w io.Writer, views []admin.View) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VIEW\tSTATE\tINDEX\tDOCUMENTS\tLAG\tNOTE")
	for _, v := range views {
		docs := "-"
		if v.Documents != nil {
			docs = strconv.FormatInt(*v.Documents, 10)
		}
		var lag []string
		for _, s := range v.Sources {
			lag = append(lag, fmt.Sprintf("%s %.1fs", s.Name, s.LagSeconds))
		}
		note := v.Reason
		if v.State == admin.StateRebuilding && v.Serving != "" {
			note = "alias serves " + v.Serving
		}
		index := v.Index
		if index == "" {
			index = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.State, index, docs, strings.Join(lag, ", "), note)
	}
	tw.Flush()
}
