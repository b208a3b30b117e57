package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/daemon"
)

// profile runs one more snapshot, untimed, with the daemon inside this
// process under the CPU profiler: the released binary serves no profiles.
func (r *snapshotRun) profile(ctx context.Context, path string) error {
	r.runs++
	name := r.db.Name + "_p" + strconv.Itoa(r.runs)
	listen, err := freeAddr()
	if err != nil {
		return err
	}
	cfgFile := shopConfig{DSN: r.db.DSN, Slot: name, SearchURL: r.env.SearchURL, Prefix: r.prefix + "p" + strconv.Itoa(r.runs) + "_",
		StateDir: filepath.Join(r.dir, name), Listen: listen, BulkActions: r.opts.BulkActions, Concurrency: r.opts.Concurrency}
	cfgPath, err := cfgFile.write(r.dir)
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	err = underCPUProfile(path, func() error {
		go func() { done <- daemon.Run(runCtx, cfg, "bench", slog.New(slog.DiscardHandler)) }()
		p := &process{listen: listen, client: &http.Client{Timeout: 5 * time.Second}}
		complete := completion{size: r.opts.Size}
		return pollEvery(ctx, snapshotPoll, func() (bool, error) {
			select {
			case err := <-done:
				return false, fmt.Errorf("projector stopped during the profiled snapshot: %w", err)
			default:
			}
			m, err := p.metrics(ctx)
			if err != nil {
				return false, nil
			}
			return complete.seen(m), nil
		})
	})
	if err == nil {
		err = writeHeapProfile(path + ".heap")
	}
	cancel()
	if err != nil {
		return err
	}
	<-done
	return nil
}

// underCPUProfile runs work with the CPU profiler writing to path.
func underCPUProfile(path string, work func() error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create CPU profile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("start CPU profile: %w", err)
	}
	err = work()
	pprof.StopCPUProfile()
	return err
}

// writeHeapProfile records what the daemon holds once the snapshot is
// indexed, beside the CPU profile.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create heap profile: %w", err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("write heap profile: %w", err)
	}
	return f.Close()
}
