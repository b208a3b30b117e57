package capture

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/internal/testbed"
)

func TestPlatformOf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		facts serverFacts
		want  Platform
	}{
		{"nothing", serverFacts{}, SelfHosted},
		{"rds roles", serverFacts{Roles: []string{"rds_replication", "rds_superuser"}}, RDS},
		{"rds setting only", serverFacts{Settings: []string{"rds.extensions"}}, RDS},
		{"aurora function", serverFacts{Roles: []string{"rds_superuser"}, AuroraFunction: true}, Aurora},
		{"aurora setting", serverFacts{Roles: []string{"rds_superuser"}, Settings: []string{"aurora.stat_plans"}}, Aurora},
		{"cloud sql role", serverFacts{Roles: []string{"cloudsqlsuperuser"}}, CloudSQL},
		{"cloud sql flag", serverFacts{Settings: []string{"cloudsql.logical_decoding"}}, CloudSQL},
		{"azure role", serverFacts{Roles: []string{"azure_pg_admin", "azuresu"}}, AzureFlexible},
		{"azure setting", serverFacts{Settings: []string{"azure.extensions"}}, AzureFlexible},
		{"supabase", serverFacts{Roles: []string{"supabase_admin"}}, Supabase},
		{"neon", serverFacts{Roles: []string{"neon_superuser"}}, Neon},
		// Supabase runs on AWS but is not RDS: its own role decides.
		{"supabase over rds setting", serverFacts{Roles: []string{"supabase_admin"}, Settings: []string{"rds.x"}}, Supabase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := platformOf(tc.facts)
			if got.Platform != tc.want {
				t.Errorf("platform %s (%s), want %s", got.Platform, got.Evidence, tc.want)
			}
			if got.Evidence == "" {
				t.Errorf("no evidence for %s", got.Platform)
			}
		})
	}
}

// TestPrivilegesPerPlatform mirrors each managed platform on a private
// server with the roles and settings the platform creates, and checks
// which platform check names, whether it lets the role replicate, and the
// fixes it gives. The server runs with wal_level = replica so that every
// platform's wal_level fix is shown too.
func TestPrivilegesPerPlatform(t *testing.T) {
	srv := testbed.NewPrivateServer(t)
	admin := srv.NewDatabase()
	admin.Exec(`ALTER SYSTEM SET wal_level = replica`)
	srv.Restart()

	for _, tc := range []struct {
		name string
		// setup runs as the superuser in the test's database; the role
		// checked is app, created before it without any attribute.
		setup    string
		platform string
		// role is what the replication check says: how the role may
		// replicate when it passes, the fix when it fails.
		role     string
		roleOK   bool
		walFix   string
		teardown string
	}{
		{
			name: "self-hosted with REPLICATION", setup: `ALTER ROLE app REPLICATION`,
			platform: "self-hosted PostgreSQL", role: "has the REPLICATION attribute", roleOK: true,
			walFix: "ALTER SYSTEM SET wal_level = logical",
		},
		{
			name: "self-hosted without REPLICATION", platform: "self-hosted PostgreSQL",
			role: `ALTER ROLE "app" WITH REPLICATION as a superuser`, walFix: "restart the server",
		},
		{
			name:     "rds member of rds_replication",
			setup:    `CREATE ROLE rds_superuser; CREATE ROLE rds_replication; GRANT rds_replication TO app`,
			platform: "Amazon RDS for PostgreSQL", role: "member of rds_replication", roleOK: true,
			walFix:   "rds.logical_replication = 1 in the instance's DB parameter group",
			teardown: `DROP ROLE rds_superuser; DROP ROLE rds_replication`,
		},
		{
			name:     "rds member of rds_superuser",
			setup:    `CREATE ROLE rds_superuser; CREATE ROLE rds_replication; GRANT rds_superuser TO app`,
			platform: "Amazon RDS for PostgreSQL", role: "member of rds_superuser", roleOK: true,
			walFix:   "reboot the instance",
			teardown: `DROP ROLE rds_superuser; DROP ROLE rds_replication`,
		},
		{
			name:     "rds without membership",
			setup:    `CREATE ROLE rds_superuser; CREATE ROLE rds_replication`,
			platform: "Amazon RDS for PostgreSQL", role: `GRANT rds_replication TO "app" as the master user`,
			walFix:   "rds.logical_replication = 1",
			teardown: `DROP ROLE rds_superuser; DROP ROLE rds_replication`,
		},
		{
			name: "aurora member of rds_replication",
			setup: `CREATE ROLE rds_superuser; CREATE ROLE rds_replication; GRANT rds_replication TO app;
				CREATE FUNCTION aurora_version() RETURNS text LANGUAGE sql AS $$ SELECT '15.4.1' $$`,
			platform: "Amazon Aurora PostgreSQL", role: "member of rds_replication", roleOK: true,
			walFix:   "DB cluster parameter group and reboot the writer",
			teardown: `DROP ROLE rds_superuser; DROP ROLE rds_replication`,
		},
		{
			name:     "cloud sql superuser member without REPLICATION",
			setup:    `CREATE ROLE cloudsqlsuperuser; GRANT cloudsqlsuperuser TO app`,
			platform: "Google Cloud SQL for PostgreSQL", role: `ALTER USER "app" WITH REPLICATION as a member of cloudsqlsuperuser`,
			walFix:   "cloudsql.logical_decoding",
			teardown: `DROP ROLE cloudsqlsuperuser`,
		},
		{
			name:     "cloud sql with REPLICATION",
			setup:    `CREATE ROLE cloudsqlsuperuser; GRANT cloudsqlsuperuser TO app; ALTER ROLE app REPLICATION`,
			platform: "Google Cloud SQL for PostgreSQL", role: "has the REPLICATION attribute", roleOK: true,
			walFix:   "gcloud sql instances patch",
			teardown: `DROP ROLE cloudsqlsuperuser`,
		},
		{
			name:     "azure admin member without REPLICATION",
			setup:    `CREATE ROLE azure_pg_admin; CREATE ROLE azuresu; GRANT azure_pg_admin TO app`,
			platform: "Azure Database for PostgreSQL flexible server", role: `ALTER ROLE "app" WITH REPLICATION as the server's administrator`,
			walFix:   "server parameter wal_level to logical",
			teardown: `DROP ROLE azure_pg_admin; DROP ROLE azuresu`,
		},
		{
			name:     "supabase with REPLICATION",
			setup:    `CREATE ROLE supabase_admin; ALTER ROLE app REPLICATION`,
			platform: "Supabase", role: "has the REPLICATION attribute", roleOK: true,
			walFix:   "Supabase projects run with wal_level = logical",
			teardown: `DROP ROLE supabase_admin`,
		},
		{
			name:     "neon without REPLICATION",
			setup:    `CREATE ROLE neon_superuser; GRANT neon_superuser TO app`,
			platform: "Neon", role: "create the role in the Neon Console",
			walFix:   "Project settings > Logical Replication",
			teardown: `DROP ROLE neon_superuser`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := srv.NewDatabase()
			db.Exec(`CREATE ROLE app LOGIN`)
			defer db.Exec(`DROP OWNED BY app; DROP ROLE app`)
			if tc.teardown != "" {
				defer db.Exec(tc.teardown)
			}
			db.Exec(`CREATE TABLE orders (id bigint PRIMARY KEY); GRANT SELECT ON orders TO app`)
			if tc.setup != "" {
				db.Exec(tc.setup)
			}
			results := checkAs(t, db, "app", "orders")
			platform := result(t, results, "server platform")
			if platform.Err != nil || !strings.HasPrefix(platform.Detail, tc.platform+":") {
				t.Errorf("platform: %q, %v; want %s", platform.Detail, platform.Err, tc.platform)
			}
			role := result(t, results, "role may replicate")
			switch {
			case tc.roleOK && (role.Err != nil || !strings.Contains(role.Detail, tc.role)):
				t.Errorf("role check: %q, %v; want OK saying %q", role.Detail, role.Err, tc.role)
			case !tc.roleOK && (role.Err == nil || !strings.Contains(role.Err.Error(), tc.role)):
				t.Errorf("role check: %v; want a failure saying %q", role.Err, tc.role)
			}
			wal := result(t, results, "wal_level is logical")
			if wal.Err == nil || !strings.Contains(wal.Err.Error(), tc.walFix) || !strings.Contains(wal.Err.Error(), tc.platform) {
				t.Errorf("wal_level check: %v; want the %s fix %q", wal.Err, tc.platform, tc.walFix)
			}
		})
	}
}

// TestTableOwnershipAndAccess checks what check says about the rights a
// role needs beyond replication: projector creates the publication, which
// PostgreSQL allows only to the tables' owner, and the snapshot reads the
// tables. Before, check passed a replication role that owned nothing and
// run failed with "must be owner of table".
func TestTableOwnershipAndAccess(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  string
		access string // "" when the role may read the tables
		pub    string // the publication check's error, or its detail when pubOK
		pubOK  bool
	}{
		{
			name:  "owned by a superuser",
			setup: `GRANT SELECT ON orders, lines TO app`,
			pub:   `tables public.lines, public.orders are owned by postgres, and only a table's owner may publish it: have postgres run CREATE PUBLICATION`,
		},
		{
			name: "owned by a role the app belongs to",
			setup: `CREATE ROLE owner_ROLE; ALTER TABLE orders OWNER TO owner_role; ALTER TABLE lines OWNER TO owner_role;
				GRANT owner_role TO app; GRANT CREATE ON DATABASE ` + "%DB%" + ` TO app`,
			pub: "does not exist yet; the role may create it", pubOK: true,
		},
		{
			name: "owned by another role",
			setup: `CREATE ROLE owner_role; ALTER TABLE orders OWNER TO owner_role; ALTER TABLE lines OWNER TO owner_role;
				GRANT SELECT ON orders, lines TO app; GRANT CREATE ON DATABASE ` + "%DB%" + ` TO app`,
			pub: `run GRANT "owner_role" TO "app" to make the role a member of the owning role`,
		},
		{
			name:   "no select",
			setup:  `GRANT SELECT ON orders TO app; CREATE PUBLICATION projector_shop FOR TABLE orders, lines`,
			access: `role "app" may not read public.lines, which the snapshot copies: run GRANT SELECT ON "public"."lines" TO "app"`,
			pub:    "already publishes every table", pubOK: true,
		},
		{
			name:  "publication owned by someone else lacks a table",
			setup: `GRANT SELECT ON orders, lines TO app; CREATE PUBLICATION projector_shop FOR TABLE orders; ALTER TABLE lines OWNER TO app`,
			pub:   `publication projector_shop is owned by postgres and lacks public.lines: have postgres run ALTER PUBLICATION "projector_shop" ADD TABLE "public"."lines"`,
		},
		{
			name:   "no schema usage",
			setup:  `REVOKE ALL ON SCHEMA public FROM PUBLIC; GRANT SELECT ON orders, lines TO app; CREATE PUBLICATION projector_shop FOR TABLE orders, lines`,
			access: `may not use schema public`,
			pub:    "already publishes every table", pubOK: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testbed.NewDatabase(t, testbed.Primary)
			role := testbed.UniqueName("app_")
			db.Exec(`CREATE ROLE ` + role + ` LOGIN REPLICATION`)
			owner := testbed.UniqueName("own_")
			t.Cleanup(func() {
				db.Exec(`DROP OWNED BY ` + role)
				db.Exec(`DROP ROLE ` + role)
				db.Exec(`DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '` + owner + `') THEN
					EXECUTE 'DROP OWNED BY ` + owner + `'; EXECUTE 'DROP ROLE ` + owner + `'; END IF; END $$`)
			})
			db.Exec(`CREATE TABLE orders (id bigint PRIMARY KEY); CREATE TABLE lines (id bigint PRIMARY KEY)`)
			setup := strings.NewReplacer("app", role, "owner_role", owner, "owner_ROLE", owner, "%DB%", db.Name).Replace(tc.setup)
			db.Exec(setup)
			results := checkAs(t, db, role, "orders", "lines")

			access := result(t, results, "role may read the tables")
			want := strings.ReplaceAll(tc.access, "app", role)
			switch {
			case want == "" && access.Err != nil:
				t.Errorf("access check: %v, want OK", access.Err)
			case want != "" && (access.Err == nil || !strings.Contains(access.Err.Error(), want)):
				t.Errorf("access check: %v, want %q", access.Err, want)
			}
			pub := result(t, results, "role may create or extend the publication")
			want = strings.NewReplacer("app", role, "owner_role", owner).Replace(tc.pub)
			switch {
			case tc.pubOK && (pub.Err != nil || !strings.Contains(pub.Detail, want)):
				t.Errorf("publication check: %q, %v; want OK saying %q", pub.Detail, pub.Err, want)
			case !tc.pubOK && (pub.Err == nil || !strings.Contains(pub.Err.Error(), want)):
				t.Errorf("publication check: %v; want %q", pub.Err, want)
			}
		})
	}
}

// checkAs runs the prerequisite checks of a source over tables as role.
func checkAs(t *testing.T, db *testbed.Database, role string, tables ...string) []CheckResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(db.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = role
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	defer conn.Close(context.Background())
	src := Source{Name: "shop"}
	for _, name := range tables {
		src.Tables = append(src.Tables, Table{Schema: "public", Name: name})
	}
	return CheckPrerequisites(ctx, conn, src)
}

func result(t *testing.T, results []CheckResult, name string) CheckResult {
	t.Helper()
	for _, r := range results {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no check named %q in %v", name, results)
	return CheckResult{}
}
