// Command projector keeps CQRS query views in Elasticsearch or OpenSearch up
// to date from the logical replication streams of PostgreSQL service
// databases.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "projector:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "projector",
		Short:         "Keep search-engine views up to date from PostgreSQL logical replication",
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g := &globals{}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "", "log format, json or text (default: log.format from the configuration)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn or error (default: log.level from the configuration)")
	root.AddCommand(newRunCommand(g), newCheckCommand(g), newTailCommand(g), newSlotsCommand(g), newVerifyCommand(g), newRebuildCommand(g))
	root.AddCommand(newHealthCommand(g))
	return root
}

// version is set at build time (-ldflags "-X main.version=1.2.3") by
// release builds and the container image.
var version string

// buildVersion reports the version and VCS revision the binary was built
// from, so an operator can tell exactly what runs.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if version != "" {
		v = version
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v + " " + info.GoVersion
}
