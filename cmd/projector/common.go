package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/config"
)

// globals are the flags every command shares.
type globals struct {
	configFile string
	logFormat  string
	logLevel   string
}

// configEnv names the environment variable that sets the default of -c, so
// that a container or a shell profile names the file once.
const configEnv = "PROJECTOR_CONFIG"

func (g *globals) addConfigFlag(cmd *cobra.Command) {
	def := "projector.yaml"
	if v := os.Getenv(configEnv); v != "" {
		def = v
	}
	cmd.Flags().StringVarP(&g.configFile, "config", "c", def, "configuration file (when -c is not given: $"+configEnv+", else the default)")
}

// load reads the configuration and builds the logger it asks for; the
// --log-* flags win over the file.
func (g *globals) load(stderr io.Writer) (*config.Config, *slog.Logger, error) {
	cfg, err := config.Load(g.configFile)
	if err != nil {
		return nil, nil, err
	}
	if g.logFormat != "" {
		cfg.Log.Format = g.logFormat
	}
	if g.logLevel != "" {
		cfg.Log.Level = g.logLevel
	}
	log, err := newLogger(stderr, cfg.Log)
	if err != nil {
		// The file's values are validated, so the flags are wrong.
		return nil, nil, &usageError{err}
	}
	return cfg, log, nil
}

func newLogger(w io.Writer, l config.Log) (*slog.Logger, error) {
	level, err := l.SlogLevel()
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w; use debug, info, warn or error", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.Format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use json or text", l.Format)
}

// isTerminal reports whether f is an interactive terminal, where progress
// bars beat log lines.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
