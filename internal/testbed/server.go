package testbed

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PrivateServer is a PostgreSQL server that belongs to one test, for tests
// that restart or break the server: the shared servers must stay up for
// the tests running beside them.
type PrivateServer struct {
	Port int
	t    testing.TB
}

// NewPrivateServer starts a fresh cluster on a free port with
// deploy/local/pg.sh and removes it when the test ends.
func NewPrivateServer(t testing.TB) *PrivateServer {
	t.Helper()
	if _, err := PGBin("initdb"); err != nil {
		unavailable(t, "PostgreSQL server binaries", err)
	}
	s := &PrivateServer{Port: freePort(t), t: t}
	t.Cleanup(func() {
		s.script("down")
		if err := os.RemoveAll(filepath.Join(repoRoot(), ".testbed", "pg", strconv.Itoa(s.Port))); err != nil {
			t.Errorf("remove private server data: %v", err)
		}
	})
	s.script("up")
	return s
}

// AdminDSN connects to the server's maintenance database.
func (s *PrivateServer) AdminDSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
}

// NewDatabase creates a database on the private server.
func (s *PrivateServer) NewDatabase() *Database {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		s.t.Fatalf("connect to private server: %v", err)
	}
	defer conn.Close(ctx)
	name := UniqueName("t_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		s.t.Fatalf("create database: %v", err)
	}
	// The server and its data go away with the test; nothing to drop.
	return &Database{Name: name, dsn: withDatabase(s.AdminDSN(), name), adminDSN: s.AdminDSN(), t: s.t}
}

// Restart stops the server in fast mode (as an operator or failover would)
// and starts it again.
func (s *PrivateServer) Restart() { s.script("restart") }

// Stop stops the server; Start brings it back.
func (s *PrivateServer) Stop()  { s.script("down") }
func (s *PrivateServer) Start() { s.script("up") }

func (s *PrivateServer) script(cmd string) {
	s.t.Helper()
	out, err := exec.Command(filepath.Join(repoRoot(), "deploy", "local", "pg.sh"), cmd, strconv.Itoa(s.Port)).CombinedOutput()
	if err != nil {
		s.t.Fatalf("pg.sh %s %d: %v\n%s", cmd, s.Port, err, out)
	}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
