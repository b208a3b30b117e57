package e2e

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestCheckReportsEveryBrokenPrerequisite sets a server up wrongly on
// purpose (wal_level replica, a role without REPLICATION, a table without
// key, a missing table and column) and a search engine that is not there:
// `projector check` must name each problem with its fix and exit 1.
func TestCheckReportsEveryBrokenPrerequisite(t *testing.T) {
	srv := testbed.NewPrivateServer(t)
	db := srv.NewDatabase()
	db.Exec(`ALTER SYSTEM SET wal_level = replica`)
	db.Exec(`CREATE ROLE app LOGIN PASSWORD 'unused'`)
	db.Exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
		CREATE TABLE notes (body text);
		GRANT SELECT ON orders, notes TO app`)
	srv.Restart()
	good := testbed.NewDatabase(t, testbed.Primary)
	good.Exec(`CREATE TABLE customers (id bigint PRIMARY KEY, name text)`)

	appDSN := strings.Replace(db.DSN(), "postgres://postgres@", "postgres://app:"+sourcePassword+"@", 1)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  shop:   { dsn: %q }
  people: { dsn: %q }
sink:
  urls: ["http://%s"]
views:
  - name: orders
    root: { source: shop, table: orders }
    fields: [id, missing_column]
    relations:
      - name: notes
        type: has_many
        source: shop
        table: notes
        on: { id: body }
      - name: ghost
        type: belongs_to
        source: people
        table: ghosts
        on: { customer_id: id }
`, appDSN, good.DSN(), freePort(t)))

	out, err := exec.Command(binary, "check", "-c", cfg).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("check exit: %v, want status 1\n%s", err, out)
	}
	report := string(out)
	for _, want := range []string{
		"OK    configuration",
		"FAIL  source shop: wal_level is logical",
		"wal_level = logical",
		"FAIL  source shop: role may replicate",
		"REPLICATION",
		"OK    source shop: server platform (self-hosted PostgreSQL",
		"FAIL  source shop: role may create or extend the publication",
		"only a table's owner may publish it",
		"FAIL  source shop: table public.notes is replicable",
		"primary key",
		"FAIL  source people: table public.ghosts is replicable",
		"OK    source people: connect to",
		"OK    source people: wal_level is logical",
		"FAIL  views: fields and joins match the source tables",
		`column "missing_column" does not exist`,
		"FAIL  sink: search engine reachable",
		"check sink.urls",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("check output lacks %q", want)
		}
	}
	if strings.Contains(report, sourcePassword) {
		t.Errorf("check printed a password")
	}
	t.Logf("check output:\n%s", report)
}
