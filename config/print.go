package config

import (
	"fmt"
	"log/slog"
	"strings"
)

// String summarises the configuration without any secret: sources show
// their redacted DSN and the sink hides its password and API key.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Config{File:%s Sources:[", c.File)
	for i, name := range c.sourceNames() {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(c.Sources[name].String())
	}
	fmt.Fprintf(&b, "] Sink:%s State:%+v HTTP:%+v Capture:%+v Readiness:%+v Shutdown:%+v Log:%+v Views:%v}",
		c.Sink, c.State, c.HTTP, c.Capture, c.Readiness, c.Shutdown, c.Log, c.viewNames())
	return b.String()
}

// GoString keeps %#v from printing secrets.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from printing secrets.
func (c Config) LogValue() slog.Value {
	sources := make([]slog.Attr, 0, len(c.Sources))
	for _, name := range c.sourceNames() {
		sources = append(sources, slog.Any(name, c.Sources[name]))
	}
	return slog.GroupValue(
		slog.String("file", c.File),
		slog.Attr{Key: "sources", Value: slog.GroupValue(sources...)},
		slog.Any("sink", c.Sink),
		slog.String("state_dir", c.State.Dir),
		slog.String("http_listen", c.HTTP.Listen),
		slog.Bool("http_pprof", c.HTTP.Pprof),
		slog.String("on_slot_lost", string(c.Capture.OnSlotLost)),
		slog.Bool("failover_slot", c.Capture.FailoverSlot),
		slog.String("max_lag", c.Readiness.MaxLag.String()),
		slog.String("shutdown_grace", c.Shutdown.Grace.String()),
		slog.Any("views", c.viewNames()),
	)
}

func (c Config) viewNames() []string {
	names := make([]string, len(c.Views))
	for i, v := range c.Views {
		names[i] = v.Name
	}
	return names
}
