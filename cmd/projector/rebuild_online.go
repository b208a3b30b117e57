package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/projector-dev/projector/internal/admin"
)

// rebuildPoll is how often a rebuild through the admin API asks how far
// it is, and how long it retries a daemon that is restarting its pipeline.
const (
	rebuildPoll  = 500 * time.Millisecond
	restartGrace = time.Minute
)

// rebuildOnline asks the running daemon to rebuild views and, with wait,
// waits until every one serves its new index. errNoDaemon means nothing
// answered, before anything was asked.
func rebuildOnline(ctx context.Context, api *adminAPI, views []string, wait bool, out io.Writer) error {
	before := map[string]string{}
	for i, view := range views {
		v, err := api.view(ctx, view)
		if err != nil {
			if i > 0 && errors.Is(err, errNoDaemon) {
				return fmt.Errorf("projector stopped answering: %w", err)
			}
			return err
		}
		before[view] = v.Index
	}
	for _, view := range views {
		if err := postRebuild(ctx, api, view); err != nil {
			return err
		}
		fmt.Fprintf(out, "rebuilding %s (from %s)\n", view, before[view])
	}
	if !wait {
		return nil
	}
	pending := views
	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting; the rebuilds go on in projector: %w", ctx.Err())
		case <-time.After(rebuildPoll):
		}
		var still []string
		for _, view := range pending {
			v, err := api.view(ctx, view)
			if err != nil {
				return err
			}
			if v.State == admin.StateStopped {
				return fmt.Errorf("view %s stopped while it was rebuilt: %s", view, v.Reason)
			}
			if v.State != admin.StateStreaming || v.Index == "" || v.Index == before[view] {
				still = append(still, view)
				continue
			}
			fmt.Fprintf(out, "rebuilt %s: its alias serves %s\n", view, v.Index)
		}
		pending = still
	}
	return nil
}

// postRebuild starts one rebuild, retrying while the daemon restarts its
// pipeline for an earlier request (503).
func postRebuild(ctx context.Context, api *adminAPI, view string) error {
	deadline := time.Now().Add(restartGrace)
	for {
		err := api.do(ctx, http.MethodPost, "/v1/views/"+view+"/rebuild", nil, nil)
		if err == nil || !strings.Contains(err.Error(), "503") || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("rebuild %s: %w", view, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rebuildPoll):
		}
	}
}
