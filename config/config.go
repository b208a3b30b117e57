package config

import (
	"fmt"
	"log/slog"
	"time"
)

// Config is everything projector reads from its configuration file.
type Config struct {
	// File is the path the configuration was loaded from; empty for a
	// Config built in code.
	File string
	// Sources are the service databases, by the name views refer to them.
	Sources map[string]Source
	// SourceNames lists the keys of Sources in the order the file declares
	// them, so that start-up, logs and errors follow the operator's order.
	SourceNames []string
	Sink        Sink
	State       State
	HTTP        HTTP
	Admin       Admin
	Capture     Capture
	Readiness   Readiness
	Shutdown    Shutdown
	Log         Log
	Views       []View

	// positions maps each YAML path ("sink.urls[0]") to where it was
	// written, so Validate can send the operator to the right line.
	positions map[string]Pos
}

// State is where projector keeps what it must remember across restarts.
type State struct {
	// Dir is a directory projector owns; relative paths are taken from the
	// working directory.
	Dir string `yaml:"dir"`
}

// HTTP is the server for /metrics, /healthz and /readyz.
type HTTP struct {
	// Listen is a host:port; an empty host listens on every interface.
	// The default is loopback only: a deployment that is scraped from
	// elsewhere (a pod IP, another container) names its address.
	Listen string `yaml:"listen"`
	// Pprof also serves Go's runtime profiles under /debug/pprof/, for
	// finding where CPU time and memory go on a live daemon. Off by
	// default: profiles reveal internals to whoever can reach the port,
	// so they are only served to requests bearing the token in
	// PprofTokenFile.
	Pprof bool `yaml:"pprof"`
	// PprofTokenFile is a file holding the bearer token profile requests
	// must send; required when Pprof is on.
	PprofTokenFile string `yaml:"pprof_token_file"`
	// PprofToken is the content of PprofTokenFile, read by Load.
	PprofToken string `yaml:"-"`
}

// String hides the profiling token.
func (h HTTP) String() string {
	return fmt.Sprintf("{Listen:%s Pprof:%v PprofTokenFile:%s}", h.Listen, h.Pprof, h.PprofTokenFile)
}

// GoString keeps %#v from printing the profiling token.
func (h HTTP) GoString() string { return h.String() }

// Capture holds choices about the replication streams.
type Capture struct {
	// OnSlotLost says what to do when a source's replication slot has
	// disappeared or been invalidated, so changes may have been missed.
	OnSlotLost SlotLostAction `yaml:"on_slot_lost"`
	// FailoverSlot creates replication slots with failover on, or turns it
	// on for existing ones (PostgreSQL 17+), so that standbys synchronizing
	// slots keep them and projector
	// resumes after a failover without a new snapshot. A source on an
	// older server stops with an error saying so.
	FailoverSlot bool `yaml:"failover_slot"`
	// ReceiveTimeout is how long a replication stream may stay silent,
	// though asked for a reply halfway, before projector gives up the
	// connection and reconnects, like a standby's wal_receiver_timeout. It
	// also bounds connecting when the DSN sets no connect_timeout.
	ReceiveTimeout Duration `yaml:"receive_timeout"`
}

// SlotLostAction is what projector does about a lost replication slot.
type SlotLostAction string

// The actions on a lost slot.
const (
	// SlotLostStop stops with an error and leaves the decision to a person.
	SlotLostStop SlotLostAction = "stop"
	// SlotLostRebootstrap creates a new slot and rebuilds the views from a
	// fresh snapshot.
	SlotLostRebootstrap SlotLostAction = "rebootstrap"
)

// Readiness decides when /readyz reports ready.
type Readiness struct {
	// MaxLag is how far the documents may trail the databases before
	// projector reports itself not ready; 0 ignores lag.
	MaxLag Duration `yaml:"max_lag"`
}

// Shutdown bounds how long projector drains on SIGTERM.
type Shutdown struct {
	// Grace is how long in-flight writes may take to be acknowledged
	// before projector exits anyway; they are replayed on the next start.
	Grace Duration `yaml:"grace"`
}

// Log configures projector's own log output.
type Log struct {
	// Format is json (one object per line, for log collectors) or text.
	Format string `yaml:"format" jsonschema:"enum=json,enum=text"`
	// Level is debug, info, warn or error.
	Level string `yaml:"level" jsonschema:"enum=debug,enum=info,enum=warn,enum=error"`
}

// Default returns the configuration every file starts from. It has no
// sources and no views, so it does not validate on its own.
func Default() Config {
	return Config{
		Sources: map[string]Source{},
		Sink: Sink{
			Timeout:       Duration(30 * time.Second),
			BulkActions:   1000,
			BulkBytes:     5 << 20,
			FlushInterval: Duration(100 * time.Millisecond),
			Concurrency:   2,
		},
		State:     State{Dir: "./var/state"},
		HTTP:      HTTP{Listen: "127.0.0.1:9464"},
		Admin:     Admin{Listen: "127.0.0.1:9466"},
		Capture:   Capture{OnSlotLost: SlotLostStop, ReceiveTimeout: Duration(time.Minute)},
		Readiness: Readiness{MaxLag: Duration(time.Minute)},
		Shutdown:  Shutdown{Grace: Duration(10 * time.Second)},
		Log:       Log{Format: "json", Level: "info"},
	}
}

// SlogLevel returns Level as a slog.Level.
func (l Log) SlogLevel() (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.Level)); err != nil {
		return 0, fmt.Errorf("parse log level %q: %w", l.Level, err)
	}
	return level, nil
}
