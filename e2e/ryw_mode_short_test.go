//go:build !chaos

package e2e

// The read-your-writes test in `make test`: 500 writes, each waited on
// and searched for.
const (
	rywTries   = 500
	rywWriters = 2
)
