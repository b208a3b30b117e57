package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/daemon"
)

// errChecksFailed makes check exit with status 1 after printing its report.
var errChecksFailed = errors.New("some checks failed; see the FAIL lines above")

func newCheckCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the configuration and every prerequisite on the live servers",
		Example: `  projector check -c projector.yaml
  projector check -c projector.yaml && projector run -c projector.yaml`,
		Long: `check validates the configuration file, then connects to every source and the
search engine and verifies what run needs: the platform the server runs on
(self-hosted, Amazon RDS or Aurora, Cloud SQL, Azure, Supabase, Neon), with
that platform's fixes; connectivity, wal_level, the right to replicate, to
read the tables and to create the publication (table ownership), free
slots and senders, that every table exists and has a primary key or a
REPLICA IDENTITY USING INDEX index to make document ids of, what the
publication covers and publishes (and what run would add to it), the
replication slot (not created yet, lost, or its position, retained WAL and
lag, as "projector slots" shows it), that every view's columns exist, join
columns have matching types and has_one relations join on a unique key, and
the search engine's flavour.
Each check prints OK or FAIL with a fix; the exit status is 1 on any failure.
Nothing is created or changed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			cfg, err := config.Load(g.configFile)
			if err != nil {
				fmt.Fprintf(out, "FAIL  configuration %s\n%s\n", g.configFile, indent(err.Error()))
				return errChecksFailed
			}
			fmt.Fprintf(out, "OK    configuration %s\n", cfg.File)
			failed := false
			for _, r := range daemon.Check(cmd.Context(), cfg) {
				switch {
				case r.Err != nil:
					failed = true
					fmt.Fprintf(out, "FAIL  %s: %s\n%s\n", r.Scope, r.Name, indent(r.Err.Error()))
				case r.Detail != "":
					fmt.Fprintf(out, "OK    %s: %s (%s)\n", r.Scope, r.Name, r.Detail)
				default:
					fmt.Fprintf(out, "OK    %s: %s\n", r.Scope, r.Name)
				}
			}
			if failed {
				return errChecksFailed
			}
			return nil
		},
	}
	g.addConfigFlag(cmd)
	return cmd
}

func indent(s string) string {
	return "      " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n      ")
}
