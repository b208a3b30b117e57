package capture

import (
	"regexp"
	"strings"
	"time"

	"github.com/projector-dev/projector/internal/budget"
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
	// ExistingPublication says the publication belongs to someone else and
	// is used as it is: projector neither creates nor alters it, and
	// refuses to stream unless it publishes what the views need.
	ExistingPublication bool
	// Columns lists, by table, the columns the views read; a table absent
	// from it is read whole. A publication's column list must keep them,
	// and none of them may be a generated column the server does not send.
	Columns map[Table][]string
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
	// SnapshotBudget bounds the bytes of transactions the stream made and
	// has not yet delivered downstream: snapshot chunks copied, and
	// streamed transactions queued while downstream is full (Buffer bounds
	// their number too); the snapshot share of budget.Default when 0.
	SnapshotBudget int64
	// MaxBackoff caps the wait between reconnection attempts.
	MaxBackoff time.Duration
	// ReceiveTimeout is how long the replication stream may stay silent
	// before projector gives up the connection and reconnects, like a
	// standby's wal_receiver_timeout: after half of it a status update asks
	// the server for a reply. It also bounds connecting, unless the DSN sets
	// connect_timeout. A network that drops packets without a reset is
	// otherwise noticed only after the kernel's retransmissions give up,
	// many minutes later.
	ReceiveTimeout time.Duration
	// Progress, when set, hears after every snapshot chunk how many rows of
	// a table are copied, out of an estimate from the table's statistics.
	Progress func(table Table, done, estimate int64)
	// FailoverSlot creates the replication slot with failover on, or turns
	// it on for an existing slot, so that PostgreSQL 17+ keeps it on
	// standbys that synchronize slots. On older servers the stream stops
	// with a permanent error.
	FailoverSlot bool
	// Chunks tunes chunked snapshots and says when they are used.
	Chunks ChunkOptions
	// Marks, when set, records every position before it is confirmed to
	// the slot beyond what downstream applied, so that a slot found ahead
	// of everything ever confirmed is known to be another slot.
	Marks SlotMarks
	// SpillDir is where the changes of transactions in progress wait once
	// they weigh more than SpillThreshold bytes (see spill.go); the spill
	// files a previous run left there are removed when the stream starts.
	// When empty, a temporary directory, removed when the stream stops.
	// SpillThreshold is the feed's share of budget.Default when 0.
	SpillDir       string
	SpillThreshold int64
}

// DefaultReceiveTimeout is Options.ReceiveTimeout when unset: the default
// of PostgreSQL's wal_receiver_timeout and wal_sender_timeout.
const DefaultReceiveTimeout = 60 * time.Second

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
	if o.SnapshotBudget <= 0 {
		o.SnapshotBudget = budget.Default().Snapshot
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.ReceiveTimeout <= 0 {
		o.ReceiveTimeout = DefaultReceiveTimeout
	}
	if o.SpillThreshold <= 0 {
		// A transaction that waits in memory is as large as the feed's
		// share of the memory budget at most.
		o.SpillThreshold = budget.Default().Feed
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
