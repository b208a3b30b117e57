package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/internal/testbed"
)

// Env says where the test bed is.
type Env struct {
	// AdminDSN connects to the maintenance database of the PostgreSQL
	// server the benchmarks create their databases on.
	AdminDSN string
	// SearchURL is the search engine's base URL.
	SearchURL string
}

// Database is a database created for one benchmark.
type Database struct {
	Name     string
	DSN      string
	adminDSN string
}

// CreateDatabase creates a uniquely named database.
func (e Env) CreateDatabase(ctx context.Context) (*Database, error) {
	admin, err := pgx.Connect(ctx, e.AdminDSN)
	if err != nil {
		return nil, fmt.Errorf("connect to the PostgreSQL server: %w", err)
	}
	defer admin.Close(ctx)
	name := uniqueName("bench_")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(e.AdminDSN)
	if err != nil {
		return nil, errors.New("the PostgreSQL DSN is not a URL")
	}
	u.Path = "/" + name
	return &Database{Name: name, DSN: u.String(), adminDSN: e.AdminDSN}, nil
}

// Drop removes the database's replication slots, then the database.
func (d *Database) Drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return testbed.DropDatabase(ctx, d.adminDSN, d.Name)
}

// Exec runs SQL on the database in a connection of its own.
func (d *Database) Exec(ctx context.Context, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, d.DSN)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", d.Name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("run %.60q on %s: %w", sql, d.Name, err)
	}
	return nil
}

func uniqueName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// scratch creates a database of the benchmark's own, with a client of the
// search engine, and returns what removes the database and every index
// under its name when the benchmark ends.
func (e Env) scratch(ctx context.Context, log *slog.Logger) (*Database, *searchClient, func(), error) {
	db, err := e.CreateDatabase(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	search := newSearchClient(e.SearchURL, 1)
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := search.deletePrefix(cctx, db.Name+"_"); err != nil {
			log.Error("clean up", "error", err)
		}
		if err := db.Drop(); err != nil {
			log.Error("clean up", "error", err)
		}
	}
	return db, search, cleanup, nil
}
