package capture

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ensurePublication creates the source's publication for exactly its
// tables, or changes an existing one whose table set differs, so the slot
// carries only what the views need.
func ensurePublication(ctx context.Context, conn *pgx.Conn, src Source, log *slog.Logger) error {
	name := src.PublicationName()
	want := make([]string, len(src.Tables))
	for i, t := range src.Tables {
		want[i] = t.String()
	}
	slices.Sort(want)

	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look up publication %q: %w", name, err)
	}
	list := quotedTables(src.Tables)
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+pgx.Identifier{name}.Sanitize()+" FOR TABLE "+list); err != nil {
			return fmt.Errorf("create publication %q: %w", name, err)
		}
		log.Info("created publication", "publication", name, "tables", strings.Join(want, ","))
		return nil
	}
	have, err := publishedTables(ctx, conn, name)
	if err != nil {
		return err
	}
	if slices.Equal(have, want) {
		return nil
	}
	if _, err := conn.Exec(ctx, "ALTER PUBLICATION "+pgx.Identifier{name}.Sanitize()+" SET TABLE "+list); err != nil {
		return fmt.Errorf("update publication %q to tables %s: %w", name, strings.Join(want, ","), err)
	}
	log.Info("updated publication", "publication", name, "was", strings.Join(have, ","), "now", strings.Join(want, ","))
	return nil
}

func publishedTables(ctx context.Context, conn *pgx.Conn, publication string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT schemaname || '.' || tablename FROM pg_publication_tables
		WHERE pubname = $1 ORDER BY 1`, publication)
	if err != nil {
		return nil, fmt.Errorf("list tables of publication %q: %w", publication, err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list tables of publication %q: %w", publication, err)
	}
	return have, nil
}

func quotedTables(tables []Table) string {
	q := make([]string, len(tables))
	for i, t := range tables {
		q[i] = t.quoted()
	}
	return strings.Join(q, ", ")
}
