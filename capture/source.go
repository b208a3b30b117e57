package capture

import (
	"regexp"
	"strings"
	"time"
)

// Source is one service database to capture.
type Source struct {
	// Name identifies the source in events, metrics and the default slot and
	// publication names.
	Name string
	// DSN connects to the database; it may carry a password and is never
	// logged.
	DSN string
	// Tables are the tables the views need from this database.
	Tables []Table
	// Slot and Publication default to projector_<name>.
	Slot        string
	Publication string
}

// Options tunes a Stream. The zero value is usable.
type Options struct {
	// StatusInterval is how often a standby status update is sent while the
	// stream is quiet; it must stay well below the server's
	// wal_sender_timeout (60 s by default).
	StatusInterval time.Duration
	// SnapshotChunkRows is how many snapshot rows travel in one transaction.
	SnapshotChunkRows int
	// Buffer is how many decoded transactions may wait for downstream before
	// the stream stops reading from the server.
	Buffer int
	// MaxBackoff caps the wait between reconnection attempts.
	MaxBackoff time.Duration
	// Progress, when set, hears after every snapshot chunk how many rows of
	// a table are copied, out of an estimate from the table's statistics.
	Progress func(table Table, done, estimate int64)
	// Marks, when set, records every position before it is confirmed to
	// the slot beyond what downstream applied, so that a slot found ahead
	// of everything ever confirmed is known to be another slot.
	Marks SlotMarks
}

func (o Options) withDefaults() Options {
	if o.StatusInterval <= 0 {
		o.StatusInterval = 10 * time.Second
	}
	if o.SnapshotChunkRows <= 0 {
		o.SnapshotChunkRows = 5000
	}
	if o.Buffer <= 0 {
		o.Buffer = 64
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	return o
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]`)

// SlotName returns the replication slot name, derived from the source name
// when not set: slot names allow only lower-case letters, digits and "_".
func (s Source) SlotName() string {
	if s.Slot != "" {
		return s.Slot
	}
	return "projector_" + unsafeName.ReplaceAllString(strings.ToLower(s.Name), "_")
}

// PublicationName returns the publication name, projector_<name> by default.
func (s Source) PublicationName() string {
	if s.Publication != "" {
		return s.Publication
	}
	return s.SlotName()
}
