package capture

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Platform is a kind of PostgreSQL deployment. Managed services keep
// superuser to themselves and grant replication, settings and ownership
// their own way, so the fix for a missing prerequisite depends on where
// the server runs.
type Platform int

// The platforms projector tells apart.
const (
	SelfHosted Platform = iota
	RDS
	Aurora
	CloudSQL
	AzureFlexible
	Supabase
	Neon
)

// String names the platform as its vendor does.
func (p Platform) String() string {
	switch p {
	case RDS:
		return "Amazon RDS for PostgreSQL"
	case Aurora:
		return "Amazon Aurora PostgreSQL"
	case CloudSQL:
		return "Google Cloud SQL for PostgreSQL"
	case AzureFlexible:
		return "Azure Database for PostgreSQL flexible server"
	case Supabase:
		return "Supabase"
	case Neon:
		return "Neon"
	}
	return "self-hosted PostgreSQL"
}

// platformRoles are the roles each managed service creates in every
// server, and platformPrefixes the prefixes of its own settings: both are
// visible to any client, which is what detection relies on.
var (
	platformRoles    = []string{"rds_superuser", "rds_replication", "cloudsqlsuperuser", "azure_pg_admin", "azuresu", "supabase_admin", "neon_superuser"}
	platformPrefixes = []string{"rds.", "aurora.", "cloudsql.", "azure.", "neon."}
)

// serverFacts are what a client can read about the server it talks to.
type serverFacts struct {
	// Version is version()'s text.
	Version string
	// Roles are the platform roles (platformRoles) that exist.
	Roles []string
	// Settings are the names of platform settings (platformPrefixes) the
	// server knows.
	Settings []string
	// AuroraFunction is true when aurora_version() exists.
	AuroraFunction bool
}

func (f serverFacts) hasRole(name string) bool { return slices.Contains(f.Roles, name) }

func (f serverFacts) hasSetting(prefix string) string {
	for _, s := range f.Settings {
		if strings.HasPrefix(s, prefix) {
			return s
		}
	}
	return ""
}

// PlatformInfo is the platform detected and the facts it was detected by.
type PlatformInfo struct {
	Platform Platform
	// Evidence says which facts gave the platform away, for `check`.
	Evidence string
}

// readServerFacts collects the facts platform detection needs in one query.
func readServerFacts(ctx context.Context, conn *pgx.Conn) (serverFacts, error) {
	var f serverFacts
	likes := make([]string, len(platformPrefixes))
	for i, p := range platformPrefixes {
		likes[i] = p + "%"
	}
	err := conn.QueryRow(ctx, `SELECT version(),
			ARRAY(SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1),
			ARRAY(SELECT name FROM pg_settings WHERE name LIKE ANY($2) ORDER BY 1),
			to_regproc('aurora_version') IS NOT NULL`, platformRoles, likes).
		Scan(&f.Version, &f.Roles, &f.Settings, &f.AuroraFunction)
	if err != nil {
		return f, fmt.Errorf("read the server's roles and settings: %w", err)
	}
	return f, nil
}

// DetectPlatform tells which platform the server conn is connected to runs
// on, from the roles and settings the platforms create.
func DetectPlatform(ctx context.Context, conn *pgx.Conn) (PlatformInfo, error) {
	f, err := readServerFacts(ctx, conn)
	if err != nil {
		return PlatformInfo{}, err
	}
	return platformOf(f), nil
}

// platformOf decides the platform from the facts. Supabase and Neon run
// on clouds but create their own roles, so they are recognised first.
func platformOf(f serverFacts) PlatformInfo {
	switch {
	case f.hasRole("neon_superuser"):
		return PlatformInfo{Neon, "role neon_superuser exists"}
	case f.hasRole("supabase_admin"):
		return PlatformInfo{Supabase, "role supabase_admin exists"}
	case f.hasRole("rds_superuser") || f.hasRole("rds_replication") || f.hasSetting("rds.") != "":
		evidence := rdsEvidence(f)
		if f.AuroraFunction || f.hasSetting("aurora.") != "" {
			return PlatformInfo{Aurora, evidence + " and aurora_version() exists"}
		}
		return PlatformInfo{RDS, evidence}
	case f.hasRole("cloudsqlsuperuser"):
		return PlatformInfo{CloudSQL, "role cloudsqlsuperuser exists"}
	case f.hasSetting("cloudsql.") != "":
		return PlatformInfo{CloudSQL, "setting " + f.hasSetting("cloudsql.") + " exists"}
	case f.hasRole("azure_pg_admin"):
		return PlatformInfo{AzureFlexible, "role azure_pg_admin exists"}
	case f.hasSetting("azure.") != "":
		return PlatformInfo{AzureFlexible, "setting " + f.hasSetting("azure.") + " exists"}
	}
	return PlatformInfo{SelfHosted, "no managed service's roles or settings found"}
}

func rdsEvidence(f serverFacts) string {
	var have []string
	for _, r := range []string{"rds_superuser", "rds_replication"} {
		if f.hasRole(r) {
			have = append(have, "role "+r)
		}
	}
	if s := f.hasSetting("rds."); s != "" {
		have = append(have, "setting "+s)
	}
	return strings.Join(have, ", ") + " exist"
}

// walLevelFix says how to turn on logical decoding on the platform.
func walLevelFix(p Platform) string {
	switch p {
	case RDS:
		return "set rds.logical_replication = 1 in the instance's DB parameter group (a custom one: the default group cannot be changed) and reboot the instance; wal_level follows"
	case Aurora:
		return "set rds.logical_replication = 1 in the DB cluster parameter group and reboot the writer instance; wal_level follows"
	case CloudSQL:
		return "set the database flag cloudsql.logical_decoding to on (console: Edit > Flags, or gcloud sql instances patch INSTANCE --database-flags=cloudsql.logical_decoding=on, listing the instance's other flags too, as patch replaces them); the instance restarts"
	case AzureFlexible:
		return "set the server parameter wal_level to logical (portal: Server parameters, or az postgres flexible-server parameter set --resource-group RG --server-name SERVER --name wal_level --value logical) and restart the server"
	case Supabase:
		return "Supabase projects run with wal_level = logical: connect to the project's primary database with a direct connection (not a read replica), or ask Supabase support"
	case Neon:
		return "enable logical replication in the Neon Console (Project settings > Logical Replication > Enable, which restarts the project's computes and cannot be undone) or with the API's enable_logical_replication setting"
	}
	return "set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart the server"
}

// replicationFix says how role gets the right to stream changes on the
// platform.
func replicationFix(p Platform, role string) string {
	q := pgx.Identifier{role}.Sanitize()
	switch p {
	case RDS, Aurora:
		return fmt.Sprintf("run GRANT rds_replication TO %s as the master user (RDS does not allow ALTER ROLE ... REPLICATION; members of rds_replication may replicate)", q)
	case CloudSQL:
		return fmt.Sprintf("run ALTER USER %s WITH REPLICATION as a member of cloudsqlsuperuser, such as the postgres user", q)
	case AzureFlexible:
		return fmt.Sprintf("run ALTER ROLE %s WITH REPLICATION as the server's administrator (a member of azure_pg_admin)", q)
	case Supabase:
		return fmt.Sprintf("run ALTER ROLE %s WITH REPLICATION as the postgres user, which has REPLICATION, or connect as postgres", q)
	case Neon:
		return fmt.Sprintf("create the role in the Neon Console, CLI or API (such roles belong to neon_superuser and may replicate), or run ALTER ROLE %s WITH REPLICATION as such a role", q)
	}
	return fmt.Sprintf("run ALTER ROLE %s WITH REPLICATION as a superuser", q)
}

// replicationGrantRoles are roles whose members may replicate without the
// REPLICATION attribute: RDS and Aurora grant replication by membership.
func replicationGrantRoles(p Platform) []string {
	if p == RDS || p == Aurora {
		return []string{"rds_replication", "rds_superuser"}
	}
	return nil
}
