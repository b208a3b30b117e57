package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/internal/daemon"
	"github.com/projector-dev/projector/internal/verify"
	"github.com/projector-dev/projector/sink"
)

// errDrift makes verify exit with status 1 after printing its report.
var errDrift = errors.New("the index differs from the source databases; see the report above")

func newVerifyCommand(g *globals) *cobra.Command {
	var views []string
	var settle time.Duration
	var diffs int
	var versionSlack time.Duration
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare every view's index with a join computed straight from the source databases",
		Example: `  projector verify -c projector.yaml
  projector verify -c projector.yaml --view order_history --max-drifts 20
  projector verify -c projector.yaml --settle 2m       # wait longer for a lagging daemon`,
		Long: `verify is projector's correctness oracle. It computes the documents each view
should hold with plain SQL reads of the source databases (not projector's own
state), compares them with the index behind the view's alias and reports per
view the documents checked, missing, stale and extra, then lists every
drifted document (up to --max-drifts, saying how many were left out) with
its field differences. A document whose _version is ahead of any projector
could have written (more than --version-slack past the clock, as after a
re-index by hand with a huge external version) is reported as version-ahead:
the engine would refuse every later update of it.

verify reads a view a page of 1,000 documents at a time in key order, so
its memory does not grow with the view; a view over entities folded from
events, or whose key or join columns cannot be looked up by value, is read
whole.

A mismatch may be a change still on its way to the index. verify re-checks
mismatched documents only until the daemon has confirmed, on each source's
slot, the WAL position read before the re-check; what still differs then is
drift. With no daemon reading a slot, nothing can change, and the re-check is
immediate. --settle bounds the wait for a daemon that lags. The exit status
is 0 only when there is no drift.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			opts, err := daemon.SinkOptions(cfg.Sink)
			if err != nil {
				return err
			}
			client, err := sink.Connect(cmd.Context(), opts)
			if err != nil {
				return fmt.Errorf("connect to the search engine: %w", err)
			}
			bar := newProgress(log)
			report, err := verify.Run(cmd.Context(), cfg, client, verify.Options{
				Views: views, Settle: settle, ShowDiffs: diffs, VersionSlack: versionSlack, MemoryBudget: memoryBudget(),
				Progress: func(view string, done, total int64) { bar.report("verify "+view, done, total) },
			}, log)
			bar.finish()
			if err != nil {
				return err
			}
			if err := report.Write(cmd.OutOrStdout()); err != nil {
				return err
			}
			if !report.Clean() {
				return errDrift
			}
			return nil
		},
	}
	g.addConfigFlag(cmd)
	cmd.Flags().StringSliceVar(&views, "view", nil, "view to check (repeatable; default: every view)")
	cmd.Flags().DurationVar(&settle, "settle", 30*time.Second, "the longest wait for the daemon to confirm changes before mismatches count as drift (negative: no re-check)")
	cmd.Flags().IntVar(&diffs, "max-drifts", 1000, "how many drifted documents per view to list field by field (0: all); the counts are always complete")
	cmd.Flags().IntVar(&diffs, "diffs", 1000, "old name of --max-drifts")
	cmd.Flags().DurationVar(&versionSlack, "version-slack", verify.DefaultVersionSlack,
		"how far past the clock a document's _version may be before it is reported as ahead (negative: no check)")
	_ = cmd.Flags().MarkDeprecated("diffs", "use --max-drifts") // the flag exists: cannot fail
	return cmd
}

// memoryBudget is the heap verify lets garbage reach while it checks a view
// in pages, unless GOGC or GOMEMLIMIT tune the collector themselves.
func memoryBudget() int64 {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	return verify.DefaultMemoryBudget
}
