// Package testbed gives integration tests a fresh PostgreSQL database and a
// fresh search-engine index prefix on the local test bed that
// deploy/local/pg.sh and deploy/local/search.sh start.
//
// Every resource a test gets is uniquely named and removed in t.Cleanup, so
// tests can run in parallel and leave nothing behind. When a service is not
// reachable the test is skipped with a loud message, except under CI=true,
// where a missing service fails the test: CI must never pass by skipping.
package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// Environment variables that point the tests at another test bed.
const (
	EnvPrimary   = "PROJECTOR_TEST_PG"     // DSN of the first server's maintenance database
	EnvSecondary = "PROJECTOR_TEST_PG2"    // DSN of the second, independent server
	EnvSearch    = "PROJECTOR_TEST_SEARCH" // URL of the search engine
	defaultPG1   = "postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable"
	defaultPG2   = "postgres://postgres@127.0.0.1:5434/postgres?sslmode=disable"
	defaultURL   = "http://127.0.0.1:9200"
)

// Server picks one of the local PostgreSQL servers.
type Server int

const (
	// Primary is the server on port 5433.
	Primary Server = iota
	// Secondary is the independent server on port 5434.
	Secondary
)

func (s Server) adminDSN() string {
	if s == Secondary {
		return envOr(EnvSecondary, defaultPG2)
	}
	return envOr(EnvPrimary, defaultPG1)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// UniqueName returns prefix followed by random hex, short enough for
// PostgreSQL identifiers and valid as an index name.
func UniqueName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return strings.ToLower(prefix) + hex.EncodeToString(b[:])
}

// unavailable skips the test locally and fails it in CI.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	msg := "TEST BED MISSING: " + what + " is not reachable (" + err.Error() +
		"); start it with `make testbed` or run `make test`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
