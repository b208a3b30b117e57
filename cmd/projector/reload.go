package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// reloadOnHangup turns SIGHUP into reload requests for the daemon until
// ctx ends. Requests that arrive while one is pending are merged: the
// daemon reads the file as it is when it gets to it. Without it, SIGHUP
// would end the process.
func reloadOnHangup(ctx context.Context) <-chan struct{} {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	out := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
			}
			select {
			case out <- struct{}{}:
			default: // one is already pending
			}
		}
	}()
	return out
}
