package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time (-ldflags "-X main.version=1.2.3") by
// release builds and the container image.
var version string

// buildInfo is what the binary knows about how it was built.
type buildInfo struct {
	// Version is the release (-X main.version), else the module version
	// ("v1.2.3" from go install …@v1.2.3, "(devel)" from a checkout).
	Version string
	// Commit is the VCS revision, "unknown" when the build did not stamp it
	// (-buildvcs=false, or a build outside the repository).
	Commit string
	// Modified says the work tree had uncommitted changes.
	Modified bool
	// Time is the commit's time, when stamped.
	Time      string
	GoVersion string
	Platform  string
}

// readBuildInfo reads what the Go toolchain stamped into the binary.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: "unknown", Commit: "unknown", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		b.Version, b.GoVersion = info.Main.Version, info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			case "vcs.time":
				b.Time = s.Value
			}
		}
	}
	if version != "" {
		b.Version = version
	}
	return b
}

// buildVersion reports the version and VCS revision the binary was built
// from in one line, so an operator can tell exactly what runs.
func buildVersion() string {
	b := readBuildInfo()
	v := b.Version
	if b.Commit != "unknown" {
		v += " " + b.Commit
	}
	return v + " " + b.GoVersion
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version projector was built with",
		Long: `version prints the release version (or the module version for a build from a
checkout), the commit it was built from (marked "modified" when the work tree
had uncommitted changes), the commit's time, the Go version and the platform.`,
		Example: "  projector version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := readBuildInfo()
			commit := b.Commit
			if b.Modified {
				commit += " (modified)"
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "version:  %s\ncommit:   %s\n", b.Version, commit)
			if b.Time != "" {
				fmt.Fprintf(out, "time:     %s\n", b.Time)
			}
			_, err := fmt.Fprintf(out, "go:       %s\nplatform: %s\n", b.GoVersion, b.Platform)
			return err
		},
	}
}
