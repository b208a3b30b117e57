package capture

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// tableRights is what the current role may do with one table.
type tableRights struct {
	Table     Table
	Owner     string
	OwnerSU   bool // the owner is a superuser: no one should be made a member of it
	Owns      bool // the role owns the table or has the privileges of its owner
	UseSchema bool
	Select    bool
}

// readTableRights reads the rights of the current role on the tables that
// exist; missing tables are left out (checkTable reports them).
func readTableRights(ctx context.Context, conn *pgx.Conn, tables []Table) ([]tableRights, error) {
	schemas := make([]string, len(tables))
	names := make([]string, len(tables))
	for i, t := range tables {
		schemas[i], names[i] = t.Schema, t.Name
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname::text, c.relname::text, o.rolname::text, o.rolsuper,
			pg_has_role(current_user, c.relowner, 'USAGE'),
			has_schema_privilege(n.oid, 'USAGE'),
			has_table_privilege(c.oid, 'SELECT')
		FROM unnest($1::text[], $2::text[]) AS want(schema, name)
		JOIN pg_namespace n ON n.nspname = want.schema
		JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = want.name AND c.relkind IN ('r', 'p')
		JOIN pg_roles o ON o.oid = c.relowner
		ORDER BY 1, 2`, schemas, names)
	if err != nil {
		return nil, fmt.Errorf("read the role's privileges on the tables: %w", err)
	}
	rights, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tableRights, error) {
		var tr tableRights
		err := r.Scan(&tr.Table.Schema, &tr.Table.Name, &tr.Owner, &tr.OwnerSU, &tr.Owns, &tr.UseSchema, &tr.Select)
		return tr, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the role's privileges on the tables: %w", err)
	}
	return rights, nil
}

// checkTableAccess requires SELECT on every table (and USAGE on its
// schema): the initial snapshot reads them with ordinary queries.
func checkTableAccess(ctx context.Context, conn *pgx.Conn, tables []Table) error {
	rights, err := readTableRights(ctx, conn, tables)
	if err != nil {
		return err
	}
	user, err := currentUser(ctx, conn)
	if err != nil {
		return err
	}
	role := pgx.Identifier{user}.Sanitize()
	var errs []error
	for _, tr := range rights {
		if !tr.UseSchema {
			errs = append(errs, fmt.Errorf("role %q may not use schema %s, so the snapshot cannot read %s: run GRANT USAGE ON SCHEMA %s TO %s",
				user, tr.Table.Schema, tr.Table, pgx.Identifier{tr.Table.Schema}.Sanitize(), role))
			continue
		}
		if !tr.Select {
			errs = append(errs, fmt.Errorf("role %q may not read %s, which the snapshot copies: run GRANT SELECT ON %s TO %s (as its owner %s)",
				user, tr.Table, tr.Table.quoted(), role, tr.Owner))
		}
	}
	return errors.Join(errs...)
}

// checkPublicationRights requires the rights projector needs to create the
// source's publication, or to add the tables it lacks: PostgreSQL lets
// only a table's owner (or a member of the owning role) publish it, and
// only the publication's owner change it. A publication that already
// publishes every table needs no rights at all. It returns what it found.
func checkPublicationRights(ctx context.Context, conn *pgx.Conn, src Source) (string, error) {
	name := src.PublicationName()
	if src.ExistingPublication {
		// What such a publication must cover is checked with the publication
		// itself; projector needs no right to change it, as it never does.
		return "publication_mode existing: " + name + " is used as it is", nil
	}
	user, err := currentUser(ctx, conn)
	if err != nil {
		return "", err
	}
	var exists, ownsPub, createDB bool
	var pubOwner *string
	var pubOwnerSU *bool
	err = conn.QueryRow(ctx, `SELECT p.oid IS NOT NULL, coalesce(pg_has_role(current_user, p.pubowner, 'USAGE'), false),
			o.rolname::text, o.rolsuper, has_database_privilege(current_database(), 'CREATE')
		FROM (SELECT 1) one LEFT JOIN pg_publication p ON p.pubname = $1 LEFT JOIN pg_roles o ON o.oid = p.pubowner`, name).
		Scan(&exists, &ownsPub, &pubOwner, &pubOwnerSU, &createDB)
	if err != nil {
		return "", fmt.Errorf("look up publication %q: %w", name, err)
	}
	var published []Table
	if exists {
		rows, err := conn.Query(ctx, `SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1`, name)
		if err != nil {
			return "", fmt.Errorf("list the tables of publication %q: %w", name, err)
		}
		published, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Table])
		if err != nil {
			return "", fmt.Errorf("list the tables of publication %q: %w", name, err)
		}
	}
	var missing []Table
	for _, t := range src.Tables {
		if !slices.Contains(published, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return fmt.Sprintf("publication %s already publishes every table", name), nil
	}
	rights, err := readTableRights(ctx, conn, missing)
	if err != nil {
		return "", err
	}
	role := pgx.Identifier{user}.Sanitize()
	stmt := "CREATE PUBLICATION " + pgx.Identifier{name}.Sanitize() + " FOR TABLE " + quotedTableList(missing)
	if exists {
		stmt = "ALTER PUBLICATION " + pgx.Identifier{name}.Sanitize() + " ADD TABLE " + quotedTableList(missing)
	}
	var errs []error
	switch {
	case !exists && !createDB:
		errs = append(errs, fmt.Errorf("role %q may not create publication %s in this database: run GRANT CREATE ON DATABASE %s TO %s, or have the tables' owner run %s",
			user, name, pgx.Identifier{conn.Config().Database}.Sanitize(), role, stmt))
	case exists && !ownsPub && pubOwnerSU != nil && *pubOwnerSU:
		errs = append(errs, fmt.Errorf("publication %s is owned by %s and lacks %s: have %s run %s",
			name, deref(pubOwner), tableNames(missing), deref(pubOwner), stmt))
	case exists && !ownsPub:
		errs = append(errs, fmt.Errorf("publication %s is owned by %s and lacks %s: have %s run %s, or run GRANT %s TO %s",
			name, deref(pubOwner), tableNames(missing), deref(pubOwner), stmt, pgx.Identifier{deref(pubOwner)}.Sanitize(), role))
	}
	// One line per owner: the fix is the same for all of its tables.
	var owners []string
	owned := map[string][]Table{}
	ownerSU := map[string]bool{}
	for _, tr := range rights {
		if tr.Owns {
			continue
		}
		if _, ok := owned[tr.Owner]; !ok {
			owners = append(owners, tr.Owner)
		}
		owned[tr.Owner] = append(owned[tr.Owner], tr.Table)
		ownerSU[tr.Owner] = tr.OwnerSU
	}
	for _, owner := range owners {
		what := fmt.Sprintf("table %s is", tableNames(owned[owner]))
		if len(owned[owner]) > 1 {
			what = fmt.Sprintf("tables %s are", tableNames(owned[owner]))
		}
		fix := fmt.Sprintf("run GRANT %s TO %s to make the role a member of the owning role", pgx.Identifier{owner}.Sanitize(), role)
		if ownerSU[owner] {
			fix = fmt.Sprintf("run ALTER TABLE ... OWNER TO %s", role)
		}
		errs = append(errs, fmt.Errorf("%s owned by %s, and only a table's owner may publish it: have %s run %s (projector then uses the publication as it is), or %s",
			what, owner, owner, stmt, fix))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	if exists {
		return fmt.Sprintf("publication %s lacks %s; the role may add them", name, tableNames(missing)), nil
	}
	return fmt.Sprintf("publication %s does not exist yet; the role may create it", name), nil
}

func currentUser(ctx context.Context, conn *pgx.Conn) (string, error) {
	var user string
	if err := conn.QueryRow(ctx, `SELECT current_user::text`).Scan(&user); err != nil {
		return "", fmt.Errorf("read the current role: %w", err)
	}
	return user, nil
}

func quotedTableList(tables []Table) string {
	q := make([]string, len(tables))
	for i, t := range tables {
		q[i] = t.quoted()
	}
	return strings.Join(q, ", ")
}

func tableNames(tables []Table) string {
	q := make([]string, len(tables))
	for i, t := range tables {
		q[i] = t.String()
	}
	return strings.Join(q, ", ")
}
