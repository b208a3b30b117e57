// Package admin is projector's admin API: a JSON API under /v1/, on its
// own listener, that shows each view's state and lets an operator rebuild,
// stop and resume views and take ad-hoc snapshots, and lets applications
// wait until their own writes are searchable (GET /v1/wait).
//
// The package knows nothing of the pipeline: the daemon gives it a Daemon
// (and, once ad-hoc snapshots of a running source exist, a Snapshotter),
// so the handlers are tested without servers. Every request must bear the
// admin token (Authorization: Bearer …), compared in constant time;
// /v1/wait also takes the wait token, for applications that may wait but
// not steer.
package admin

import (
	"context"
	"errors"
	"time"

	"github.com/projector-dev/projector/capture"
)

// The errors a Daemon returns to pick the answer's status.
var (
	// ErrNotFound: no such view or source (404).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the pipeline is not running right now, e.g. while
	// it starts or restarts (503).
	ErrUnavailable = errors.New("unavailable")
	// ErrConflict: the view's state does not allow it, e.g. resuming a
	// view that runs (409).
	ErrConflict = errors.New("conflict")
	// ErrNotImplemented: this projector cannot do it (501).
	ErrNotImplemented = errors.New("not implemented")
)

// Daemon is what the admin API needs of the running daemon.
type Daemon interface {
	// Views reports every configured view, in the configuration's order.
	Views(ctx context.Context) ([]View, error)
	// Reached reports whether every change of source up to lsn is durable
	// (acknowledged by the index, with every change before it) in view's
	// searchable index version (not yet refreshed), and returns
	// a channel closed when the answer may have changed; a nil channel
	// means "ask again a little later". Unknown view or source:
	// ErrNotFound.
	Reached(view, source string, lsn capture.LSN) (bool, <-chan struct{}, error)
	// Refresh makes what view's index holds searchable.
	Refresh(ctx context.Context, view string) error
	// Rebuild builds view's next index version in the background and
	// moves its alias once it is complete.
	Rebuild(view string) error
	// Stop stops maintaining view; its index stays as it is.
	Stop(view string) error
	// Resume maintains a stopped view again.
	Resume(view string) error
}

// WriteRefresher is what a Daemon may offer besides Marker, so that a
// wait's refresh rides on the write path: the engine refreshes the shards
// a bulk request wrote when it carries refresh=true, on the thread that
// wrote them, instead of queueing a refresh request behind every index's
// scheduled refreshes (one thread per two processors does those).
type WriteRefresher interface {
	// RefreshWithWrites makes the next bulk request that writes view's
	// index, if one is sent soon, carry refresh=true. Once the engine
	// answered it reporting the refresh, it returns true and the Mark
	// taken just before the request was sent: the refresh shows every
	// document acknowledged by then, as an explicit refresh started at
	// that Mark would. It returns false when the daemon cannot promise
	// that (an index of several shards, which a bulk request refreshes
	// only where it wrote), or no such request was sent soon, or it did
	// not report the refresh; the wait then refreshes the index itself.
	RefreshWithWrites(ctx context.Context, view string) (Mark, bool, error)
}

// Snapshotter takes ad-hoc snapshots of a running source.
type Snapshotter interface {
	// Snapshot copies again the table (or every table of the view) named
	// in req, while streaming goes on, and returns once it has started.
	Snapshot(ctx context.Context, req SnapshotRequest) error
}

// SnapshotRequest is the body of POST /v1/snapshot: a source and a
// table, or a view.
type SnapshotRequest struct {
	Source string `json:"source,omitempty"`
	Table  string `json:"table,omitempty"`
	View   string `json:"view,omitempty"`
}

// The states of a view.
const (
	StateSnapshotting = "snapshotting"
	StateStreaming    = "streaming"
	StateRebuilding   = "rebuilding"
	StateStopped      = "stopped"
	StateStarting     = "starting"
)

// View is one view's status, as GET /v1/views answers it.
type View struct {
	Name string `json:"name"`
	// Alias is the name clients query.
	Alias string `json:"alias"`
	// Index is the versioned index the documents are written to, and
	// Version its number; while rebuilding, Serving is the index the alias
	// still points at.
	Index   string `json:"index,omitempty"`
	Version int    `json:"version,omitempty"`
	Serving string `json:"serving,omitempty"`
	// Documents is the index's document count, when the engine answered.
	Documents *int64 `json:"documents,omitempty"`
	// State is snapshotting, streaming, rebuilding, stopped or starting.
	State string `json:"state"`
	// Reason says why a view is stopped.
	Reason  string   `json:"reason,omitempty"`
	Sources []Source `json:"sources,omitempty"`
}

// Source is what a view's status says of each source it reads.
type Source struct {
	Name string `json:"name"`
	// LagSeconds is the age of the oldest change of the source not yet
	// durable in the index.
	LagSeconds float64 `json:"lag_seconds"`
	// Durable is the source position up to which every change is durable
	// in the index.
	Durable string `json:"durable,omitempty"`
	// Snapshotting is set while the source's snapshot is copied, with
	// rows copied out of the estimate when known.
	Snapshotting bool  `json:"snapshotting,omitempty"`
	Copied       int64 `json:"copied_rows,omitempty"`
	Estimate     int64 `json:"estimated_rows,omitempty"`
}

// Wait bounds.
const (
	// DefaultWaitTimeout is /v1/wait's timeout when the request has none.
	DefaultWaitTimeout = 5 * time.Second
	// MaxWaitTimeout is the longest timeout /v1/wait accepts.
	MaxWaitTimeout = time.Minute
	// pollEvery is how often a wait asks again when the daemon gave no
	// channel, or when only the stream's quiet position can answer.
	pollEvery = 50 * time.Millisecond
)
