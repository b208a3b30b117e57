package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/config"
)

func newConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration or its JSON Schema",
		Long: `config print loads and validates the configuration file like run does and
prints the configuration projector would use: every key, with the defaults
written out. No password, API key or token is printed: one written in the
file shows as xxxxx, one read from a file is left out (the *_file key says
where it comes from). config schema prints the JSON Schema of the file, for
editors (yaml-language-server) and CI checks; docs/configuration.md
describes every key.`,
		Example: `  projector config print -c projector.yaml
  projector config schema > projector.schema.json`,
	}
	printCmd := &cobra.Command{
		Use:   "print",
		Short: "Print the configuration in use, defaults included and secrets hidden, as YAML",
		Example: `  projector config print -c projector.yaml
  PROJECTOR_CONFIG=/etc/projector/projector.yaml projector config print | diff -u deployed.yaml -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(g.configFile)
			if err != nil {
				return err
			}
			out, err := cfg.Effective()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s%s\n# The effective configuration of %s: defaults written out, secrets hidden.\n%s",
				"# yaml-language-server: $schema=", config.SchemaURL, cfg.File, out)
			return err
		},
	}
	g.addConfigFlag(printCmd)
	schema := &cobra.Command{
		Use:     "schema",
		Short:   "Print the JSON Schema of the configuration file",
		Example: "  projector config schema > projector.schema.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(config.Schema())
			return err
		},
	}
	cmd.AddCommand(printCmd, schema)
	return cmd
}
