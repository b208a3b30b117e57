package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// The exit statuses of every command, as in most Unix tools: 2 says the
// command line itself is wrong, so retrying it as it is cannot help.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError is a mistake in the command line: an unknown command or flag,
// a missing or extra argument. It makes projector exit with exitUsage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// execute applies the command-line conventions to the command tree under
// root, runs the command line args and returns the exit status, printing
// the error, if any, to stderr: exitUsage for a wrong command line, with a
// pointer to the help, exitFailure for any other error.
func execute(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	applyConventions(root)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "projector: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintln(stderr, "projector:", err)
	return exitFailure
}

// applyConventions makes every command below root report a wrong command
// line as a usageError: flag errors, argument errors, and unknown or
// missing subcommands, which cobra would otherwise answer with the help
// text and success.
func applyConventions(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.SetHelpCommand(newHelpCommand())
	root.InitDefaultCompletionCmd() // now, so that the walk below covers it
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.SuggestionsMinimumDistance = 2
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = needSubcommand
		}
		if validate := c.Args; validate != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := validate(cmd, args); err != nil {
					return &usageError{err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// needSubcommand runs for a command that only groups others: its first
// argument, if any, names no subcommand.
func needSubcommand(cmd *cobra.Command, args []string) error {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	if len(args) == 0 {
		return usagef("%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		return usagef("%s; did you mean %q?", msg, s[0])
	}
	return usagef("%s; the commands are %s", msg, strings.Join(names, ", "))
}

// newHelpCommand replaces cobra's help command, which answers an unknown
// topic with the root's help and success.
func newHelpCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		Example: "  projector help slots drop",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("unknown help topic %q; run projector help for the commands", strings.Join(args, " "))
			}
			return cmd.Help()
		},
	}
}
