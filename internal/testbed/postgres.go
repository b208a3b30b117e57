package testbed

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Database is a fresh PostgreSQL database that exists for one test.
type Database struct {
	Name     string
	dsn      string
	adminDSN string
	t        testing.TB
}

// NewDatabase creates a uniquely named database on server and drops it, with
// every replication slot in it, when the test ends.
func NewDatabase(t testing.TB, server Server) *Database {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, server.adminDSN())
	if err != nil {
		unavailable(t, "PostgreSQL at "+redact(server.adminDSN()), err)
	}
	defer admin.Close(ctx)

	name := UniqueName("t_")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	db := &Database{Name: name, dsn: withDatabase(server.adminDSN(), name), adminDSN: server.adminDSN(), t: t}
	t.Cleanup(db.drop)
	return db
}

// DSN is the connection string of the database.
func (d *Database) DSN() string { return d.dsn }

// AdminDSN is the connection string of the server's maintenance database.
func (d *Database) AdminDSN() string { return d.adminDSN }

// Connect opens a connection to the database, closed when the test ends.
func (d *Database) Connect() *pgx.Conn {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		d.t.Fatalf("connect to %s: %v", d.Name, err)
	}
	d.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs SQL statements on the database and fails the test on error.
func (d *Database) Exec(sql string, args ...any) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		d.t.Fatalf("connect to %s: %v", d.Name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		d.t.Fatalf("exec %q on %s: %v", sql, d.Name, err)
	}
}

// drop removes the slots of the database and then the database itself.
func (d *Database) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := DropDatabase(ctx, d.adminDSN, d.Name); err != nil {
		d.t.Error(err)
	}
}

func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(fmt.Sprintf("test DSN is not a URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}
