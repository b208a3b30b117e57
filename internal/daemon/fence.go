package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
)

// fenceEvery is how often a held fence's connection is checked, and how
// often a standby tries to take the fences.
const fenceEvery = 5 * time.Second

// fenceGrace is how long a start keeps trying for a fence before it
// refuses: the session of a predecessor that was just killed takes a
// moment to end.
const fenceGrace = 10 * time.Second

// fences are the advisory locks that make this process the one writer of
// the configured views, one per source, held for the process's life.
type fences struct {
	held    []*heldFence
	lost    context.Context // ended, with the cause, once a fence is taken by another process
	lose    context.CancelCauseFunc
	watched sync.WaitGroup
}

type heldFence struct {
	src     capture.Source
	fence   *capture.Fence // owned by the watch goroutine once it runs
	holding atomic.Bool
	// previous is the session that held the fence before its connection
	// was lost: the server may still count it as the holder.
	previous capture.FenceSession
}

// fenceSources lists the sources the views use, whose fences a run takes.
func fenceSources(cfg *config.Config) []capture.Source {
	var out []capture.Source
	used := cfg.TablesBySource()
	for _, name := range cfg.SourceNames {
		if _, ok := used[name]; !ok {
			continue
		}
		out = append(out, CaptureSource(cfg, name))
	}
	return out
}

// fenceOptions say how takeFences treats a fence held by another process
// and a source it cannot reach.
type fenceOptions struct {
	// standby waits for a fence held by another process instead of
	// refusing to start; waiting, when set, hears why (for readiness).
	standby bool
	waiting func(why string)
	// health, when set, records a source that cannot be reached for good.
	health *health
	log    *slog.Logger
}

// takeFences takes every source's fence. Without standby a fence held by
// another process is an error naming it; with standby it is waited for.
// A source that cannot be reached for a reason retrying cannot fix (a
// wrong password, retries exhausted) stops alone, recorded in
// opts.health (when given), like any other source failing for good: it
// gets no fence, and the pipeline leaves it out.
func takeFences(ctx context.Context, sources []capture.Source, opts fenceOptions) (*fences, error) {
	f := &fences{}
	f.lost, f.lose = context.WithCancelCause(context.Background())
	for _, src := range sources {
		fence, err := takeFence(ctx, src, opts)
		if err != nil && opts.health != nil && ctx.Err() == nil && !errors.Is(err, capture.ErrFenced) {
			opts.health.sourceFailed(src.Name, err)
			continue
		}
		if err != nil {
			f.release()
			return nil, err
		}
		h := &heldFence{src: src, fence: fence}
		h.holding.Store(true)
		f.held = append(f.held, h)
	}
	return f, nil
}

func takeFence(ctx context.Context, src capture.Source, opts fenceOptions) (*capture.Fence, error) {
	standby, notify, log := opts.standby, opts.waiting, opts.log
	refuseAt := time.Now().Add(fenceGrace)
	waiting := false
	for {
		fence, err := retry(ctx, retryPolicy{what: "connect to source " + src.Name + " to take its lock", classify: capture.Classify, log: log},
			func() (*capture.Fence, error) { return capture.TryFence(ctx, src) })
		switch {
		case err == nil:
			if waiting {
				log.Info("took over: this instance is now the writer of the source's views", "source", src.Name)
			}
			return fence, nil
		case !errors.Is(err, capture.ErrFenced):
			return nil, err
		case !standby && time.Now().After(refuseAt):
			return nil, err
		case standby && !waiting:
			log.Info("standby: waiting for the running projector to stop", "source", src.Name, "reason", err)
			if notify != nil {
				notify("standby: " + err.Error())
			}
			waiting = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(fenceEvery, time.Until(refuseAt)+time.Millisecond)):
		}
	}
}

// watch checks each fence's connection until ctx ends. A lost connection
// is taken again; a fence that another process took meanwhile ends lost:
// this process is no longer the writer and must stop at once.
func (f *fences) watch(ctx context.Context, log *slog.Logger) {
	for _, h := range f.held {
		f.watched.Add(1)
		go func() {
			defer f.watched.Done()
			f.watchOne(ctx, h, log)
		}()
	}
}

func (f *fences) watchOne(ctx context.Context, h *heldFence, log *slog.Logger) {
	tick := time.NewTicker(fenceEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if h.fence != nil {
			cctx, cancel := context.WithTimeout(ctx, fenceEvery)
			err := h.fence.Check(cctx)
			cancel()
			if err == nil || ctx.Err() != nil {
				continue
			}
			log.Warn("lost the lock connection of a source; taking the lock again", "source", h.src.Name, "error", err)
			h.holding.Store(false)
			h.previous = h.fence.Session()
			h.fence.Close()
			h.fence = nil
		}
		cctx, cancel := context.WithTimeout(ctx, fenceEvery)
		fence, err := capture.RetakeFence(cctx, h.src, h.previous)
		cancel()
		switch {
		case err == nil:
			h.fence = fence
			h.holding.Store(true)
			log.Info("took the lock of the source again", "source", h.src.Name)
		case errors.Is(err, capture.ErrFenced):
			f.lose(fmt.Errorf("stopped writing: %w", err))
			return
		case ctx.Err() == nil:
			log.Warn("cannot take the lock of the source again yet", "source", h.src.Name, "error", err)
		}
	}
}

// guard fails unless every fence is held right now: alias moves and index
// deletions wait for proof that this process is still the writer.
func (f *fences) guard() error {
	if f == nil {
		return nil
	}
	if err := context.Cause(f.lost); err != nil {
		return err
	}
	for _, h := range f.held {
		if !h.holding.Load() {
			return fmt.Errorf("the lock of source %q is not held right now (its connection was lost); not changing the views' indices until it is", h.src.Name)
		}
	}
	return nil
}

// err is why this process lost its place as the writer, or nil.
func (f *fences) err() error {
	if f == nil {
		return nil
	}
	return context.Cause(f.lost)
}

// release waits for the watchers, which must be stopped, and lets go of
// every fence.
func (f *fences) release() {
	f.watched.Wait()
	for _, h := range f.held {
		if h.fence != nil {
			h.fence.Close()
		}
	}
}
