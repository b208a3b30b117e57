package daemon

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/projector-dev/projector/config"
)

// TestAdminOffByDefault: without admin.token_file nothing listens on
// admin.listen; with it, the admin API does, until stopped.
func TestAdminOffByDefault(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := config.Default()
	cfg.Admin.Listen = addr
	a, stop, err := startAdmin(&cfg, nil, log)
	if err != nil || a != nil {
		t.Fatalf("startAdmin without a token = %v, %v; want nothing", a, err)
	}
	stop()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("something listens on %s without admin.token_file", addr)
	}
	cfg.Admin.TokenFile, cfg.Admin.Token = "admin.token", "secret"
	a, stop, err = startAdmin(&cfg, nil, log)
	if err != nil || a == nil {
		t.Fatalf("startAdmin with a token = %v, %v", a, err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("the admin API does not listen on %s: %v", addr, err)
	}
	c.Close()
	stop()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("the admin API still listens on %s after stop", addr)
	}
}
