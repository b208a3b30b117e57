package main

import (
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/projector-dev/projector/internal/daemon"
)

// progress shows long work (snapshots, rebuilds, verification) as a bar on
// a terminal and as a log line every few seconds otherwise, where a bar
// would only fill log files with control characters. progressbar is a
// small, widely used library that handles terminal widths and throttling.
type progress struct {
	term bool
	log  *slog.Logger

	mu      sync.Mutex
	label   string
	bar     *progressbar.ProgressBar
	lastLog time.Time
}

func newProgress(log *slog.Logger) *progress {
	return &progress{term: isTerminal(os.Stderr), log: log}
}

// report records that label has done of total units.
func (p *progress) report(label string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.term {
		if label != p.label || done == total || time.Since(p.lastLog) > 5*time.Second {
			p.label, p.lastLog = label, time.Now()
			p.log.Info("progress", "work", label, "done", done, "total", total)
		}
		return
	}
	if label != p.label || p.bar == nil {
		p.finishLocked()
		p.label = label
		p.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription(label), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetPredictTime(true))
	}
	p.bar.ChangeMax64(total)
	_ = p.bar.Set64(done) // writing to the terminal failing is not worth stopping for
}

// finish completes the current bar, if any.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
}

func (p *progress) finishLocked() {
	if p.bar != nil {
		_ = p.bar.Finish()
		os.Stderr.WriteString("\n")
		p.bar = nil
	}
}

// showSnapshotProgress draws the daemon's snapshot progress as a bar when
// stderr is a terminal; call the returned function when the daemon ends.
func showSnapshotProgress(opts *daemon.Options, log *slog.Logger) func() {
	if !isTerminal(os.Stderr) {
		return func() {}
	}
	bar := newProgress(log)
	opts.Progress = bar.report
	return bar.finish
}
