package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestCommands runs setup, load and generate the way a user would, against
// fresh databases on both test-bed servers.
func TestCommands(t *testing.T) {
	orders := testbed.NewDatabase(t, testbed.Primary)
	dsns := []string{
		"--orders-dsn", orders.DSN(),
		"--consumers-dsn", testbed.NewDatabase(t, testbed.Primary).DSN(),
		"--restaurants-dsn", testbed.NewDatabase(t, testbed.Secondary).DSN(),
		"--deliveries-dsn", testbed.NewDatabase(t, testbed.Secondary).DSN(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, args := range [][]string{
		{"setup"},
		{"setup"},
		{"load", "--orders", "200", "--seed", "4"},
		{"generate", "--ops", "100", "--rate", "0", "--progress", "50ms"},
	} {
		root := newRootCommand()
		root.SetArgs(append(args, dsns...))
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("projector-demo %v: %v", args, err)
		}
	}
	conn := orders.Connect()
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 190 {
		t.Errorf("%d orders after loading 200 and a short workload", n)
	}
}

func TestCreateDatabaseKeepsAnExistingOne(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	created, err := createDatabase(context.Background(), db.DSN(), "postgres")
	if err != nil || created {
		t.Errorf("createDatabase on an existing database = %v, %v; want false, nil", created, err)
	}
}

func TestCreateDatabaseHidesPassword(t *testing.T) {
	_, err := createDatabase(context.Background(), "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=1", "postgres")
	if err == nil {
		t.Fatal("connecting to port 1 succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
}
