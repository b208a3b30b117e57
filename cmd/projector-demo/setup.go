package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/internal/fooddelivery"
)

func newSetupCommand(dsns *dsnFlags) *cobra.Command {
	var adminDB string
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Create the four service databases and their tables if they do not exist",
		Long: `setup creates each service database that is missing, connecting to the
maintenance database of the same server (--admin-database) to do so, and then
creates the tables and indexes that are missing. Running it again changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := newLogger()
			for _, s := range fooddelivery.Services() {
				created, err := createDatabase(ctx, dsns.dsns.DSN(s), adminDB)
				if err != nil {
					return fmt.Errorf("%s database: %w", s, err)
				}
				log.Info("database ready", "service", s, "created", created)
			}
			dbs, err := fooddelivery.Connect(ctx, dsns.dsns)
			if err != nil {
				return err
			}
			defer dbs.Close()
			if err := fooddelivery.Setup(ctx, dbs); err != nil {
				return err
			}
			log.Info("tables ready")
			return nil
		},
	}
	cmd.Flags().StringVar(&adminDB, "admin-database", "postgres",
		"database to connect to on each server while creating the service databases")
	return cmd
}

// createDatabase creates the database a DSN names unless it exists, and
// reports whether it did. Errors never repeat the DSN: it may hold a password.
func createDatabase(ctx context.Context, dsn, adminDB string) (bool, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return false, fmt.Errorf("parse DSN: invalid connection string")
	}
	name := cfg.Database
	cfg.Database = adminDB
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect to %q to create %q: %w", adminDB, name, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up database %q: %w", name, err)
	}
	if exists {
		return false, nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return false, fmt.Errorf("create database %q: %w", name, err)
	}
	return true, nil
}
