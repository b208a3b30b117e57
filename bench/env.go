package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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

// Drop removes the database's replication slots, then the database. A
// walsender that was just stopped takes a moment to release its slot.
func (d *Database) Drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, d.adminDSN)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", d.Name, err)
	}
	defer admin.Close(ctx)
	for attempt := 0; ; attempt++ {
		err = dropSlots(ctx, admin, d.Name)
		if err == nil || attempt == 50 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err == nil {
		_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)")
	}
	if err != nil {
		return fmt.Errorf("drop database %s: %w", d.Name, err)
	}
	return nil
}

func dropSlots(ctx context.Context, admin *pgx.Conn, db string) error {
	_, err := admin.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
		WHERE database = $1 AND active_pid IS NOT NULL`, db)
	if err != nil {
		return err
	}
	_, err = admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		WHERE database = $1`, db)
	return err
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

// pgBin finds a PostgreSQL client program the way the test bed finds the
// server's: pg_config's bindir first, then the Debian layout.
func pgBin(name string) (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		return "", fmt.Errorf("%s not found: install the PostgreSQL client programs", name)
	}
	return matches[len(matches)-1], nil
}

func uniqueName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b[:])
}
