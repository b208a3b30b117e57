// Package bench measures projector against the physical limits of the
// machine it runs on: every result is a rate measured side by side, in one
// run, with the fastest thing that could do the same work (a bare pgoutput
// loop, pg_recvlogical, a plain bulk loader, the offered write rate), and
// is reported as a ratio to it, so that a busy or slow machine shifts both
// sides alike.
//
// The macro benchmarks need the local test bed (PostgreSQL on 5433,
// OpenSearch on 9200); each creates its own database and index prefix and
// removes them when it ends. cmd/projector-bench runs them and writes
// docs/benchmarks.md.
package bench
