// Package daemon wires projector's stages into the long-running process
// behind `projector run`: one capture stream per source feeds the view
// engine, whose documents the sink writes; an HTTP server exposes metrics
// and health. It owns start-up checks, lag metrics and graceful shutdown.
package daemon
