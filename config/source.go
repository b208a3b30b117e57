package config

import (
	"fmt"
	"log/slog"
)

// Source is one service database projector replicates from.
type Source struct {
	// Name is the key under sources; views refer to the database by it.
	Name string `yaml:"-"`
	// DSN is a postgres:// URL or a key=value connection string. It may
	// carry a password, so print RedactedDSN instead.
	DSN string `yaml:"dsn"`
	// PasswordFile names a file holding the password; Load puts its content
	// into DSN.
	PasswordFile string `yaml:"password_file"`
	// Slot is the logical replication slot; "projector_<name>" by default.
	Slot string `yaml:"slot"`
	// Publication lists the captured tables; "projector_<name>" by default.
	Publication string `yaml:"publication"`
}

// String describes the source without its password.
func (s Source) String() string {
	return fmt.Sprintf("Source{Name:%s DSN:%s Slot:%s Publication:%s}", s.Name, s.RedactedDSN(), s.Slot, s.Publication)
}

// GoString keeps %#v from printing the password.
func (s Source) GoString() string { return s.String() }

// LogValue keeps slog from printing the password.
func (s Source) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", s.Name),
		slog.String("dsn", s.RedactedDSN()),
		slog.String("slot", s.Slot),
		slog.String("publication", s.Publication),
	)
}

// RedactedDSN returns DSN with every password replaced by "xxxxx". A DSN too
// malformed to find its password in is hidden entirely.
func (s Source) RedactedDSN() string { return redactDSN(s.DSN) }
