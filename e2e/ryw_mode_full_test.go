//go:build chaos

package e2e

// The read-your-writes test in `make chaos`: 10,000 writes from four
// connections at once, each waited on and searched for.
const (
	rywTries   = 10000
	rywWriters = 4
)
