package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// countMatching counts the documents of index (an alias) that match query.
func countMatching(t *testing.T, search *testbed.Search, index, query string) int {
	t.Helper()
	search.Refresh()
	body, err := search.Do("POST", "/"+index+"/_count?ignore_unavailable=true", strings.NewReader(query))
	if err != nil {
		return -1
	}
	var res struct {
		Count int `json:"count"`
	}
	if err := jsonUnmarshal(body, &res); err != nil {
		return -1
	}
	return res.Count
}

// TestPartitionedTableInExistingPublication runs projector on a
// partitioned table through a FOR TABLES IN SCHEMA publication an
// administrator made (publication_mode: existing): check reports what
// the publication covers and the partitions, the snapshot copies the
// root, inserts, updates and deletes in any partition reach the view, and
// the publication is left as it was.
func TestPartitionedTableInExistingPublication(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE readings (id bigint PRIMARY KEY, value int NOT NULL) PARTITION BY RANGE (id);
		CREATE TABLE readings_a PARTITION OF readings FOR VALUES FROM (MINVALUE) TO (100);
		CREATE TABLE readings_b PARTITION OF readings FOR VALUES FROM (100) TO (1000000);
		INSERT INTO readings SELECT g, g FROM generate_series(1, 150) g;
		CREATE PUBLICATION dba FOR TABLES IN SCHEMA public WITH (publish_via_partition_root = true)`)
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  meters: { dsn: %q, publication: dba, publication_mode: existing }
sink:
  urls: [%q]
  index_prefix: %s
  flush_interval: 100ms
state: { dir: %q }
http: { listen: %q }
views:
  - name: readings
    root: { source: meters, table: readings }
`, db.DSN(), search.URL, search.Prefix, t.TempDir(), addr))

	out, err := exec.Command(binary, "check", "-c", cfg).CombinedOutput()
	report := string(out)
	for _, want := range []string{
		"OK    source meters: publication dba serves the views (FOR TABLES IN SCHEMA public; owned by postgres, used as it is (publication_mode: existing); publishes insert, update, delete, truncate; partitioned tables published via their root)",
		"OK    source meters: table public.readings is published (partitioned table with 2 partitions, published via root)",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("check output lacks %q:\n%s", want, report)
		}
	}
	if err != nil {
		t.Errorf("check failed: %v\n%s", err, report)
	}

	d := startDaemon(t, cfg, addr)
	d.waitReady(2 * time.Minute)
	alias := search.Index("readings")
	db.Exec(`INSERT INTO readings VALUES (10000, 1), (10001, 1); UPDATE readings SET value = -1 WHERE id IN (5, 120);
		DELETE FROM readings WHERE id IN (6, 121)`)
	eventually(t, time.Minute, func() bool {
		return countMatching(t, search, alias, `{"query":{"match_all":{}}}`) == 150 &&
			countMatching(t, search, alias, `{"query":{"term":{"value":-1}}}`) == 2 &&
			countMatching(t, search, alias, `{"query":{"ids":{"values":["10000"]}}}`) == 1
	}, func() string {
		return fmt.Sprintf("view holds %d documents, %d with value -1; want 150 and 2, and document 10000",
			countMatching(t, search, alias, `{"query":{"match_all":{}}}`), countMatching(t, search, alias, `{"query":{"term":{"value":-1}}}`))
	})

	// Attaching a table with rows, or detaching a partition, writes no
	// change to the stream: the view is rebuilt from a fresh snapshot.
	db.Exec(`CREATE TABLE readings_c (LIKE readings);
		INSERT INTO readings_c SELECT g, 333 FROM generate_series(1000000, 1000009) g;
		ALTER TABLE readings ATTACH PARTITION readings_c FOR VALUES FROM (1000000) TO (2000000);
		ALTER TABLE readings DETACH PARTITION readings_a`)
	eventually(t, 2*time.Minute, func() bool {
		return countMatching(t, search, alias, `{"query":{"match_all":{}}}`) == 150-98+10 &&
			countMatching(t, search, alias, `{"query":{"term":{"value":333}}}`) == 10
	}, func() string {
		return fmt.Sprintf("view holds %d documents, %d of the attached partition; want 62 and 10",
			countMatching(t, search, alias, `{"query":{"match_all":{}}}`), countMatching(t, search, alias, `{"query":{"term":{"value":333}}}`))
	})
	if !strings.Contains(d.out.String(), "partitions of public.readings changed (attached public.readings_c; detached public.readings_a)") {
		t.Errorf("projector did not report the partition change")
	}
	if out := d.out.String(); strings.Contains(out, "changed publication") {
		t.Errorf("an existing publication was changed:\n%s", out)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}

// TestForAllTablesPublishInsertStops: a FOR ALL TABLES publication that
// does not publish updates and deletes stops the source at once with the
// fix, instead of retrying forever or losing updates silently.
func TestForAllTablesPublishInsertStops(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE things (id int PRIMARY KEY, name text);
		CREATE PUBLICATION dba FOR ALL TABLES WITH (publish = 'insert')`)
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  app: { dsn: %q, publication: dba }
sink:
  urls: [%q]
  index_prefix: %s
state: { dir: %q }
http: { listen: %q }
views:
  - name: things
    root: { source: app, table: things }
`, db.DSN(), search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr)
	// The source stops alone, once, with the fix; the process stays up,
	// not ready, saying why.
	d.waitUnready(time.Minute, "source app: stopped", "view things: not maintained")
	want := `SET (publish = 'insert, update, delete, truncate')`
	if out := d.out.String(); !strings.Contains(out, want) {
		t.Errorf("output lacks the fix %s:\n%s", want, out)
	}
	time.Sleep(3 * time.Second)
	if n := strings.Count(d.out.String(), `does not publish update, delete`); n != 1 {
		t.Errorf("the refusal was logged %d times, want once (never retried)", n)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestColumnAddedUnderWholeTableView: a column added to a table a view
// shows whole reaches every document, without restarting projector: the
// view is rebuilt into a new index version and its alias moved.
func TestColumnAddedUnderWholeTableView(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE things (id int PRIMARY KEY, name text);
		INSERT INTO things SELECT g, 'thing ' || g FROM generate_series(1, 50) g`)
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  app: { dsn: %q }
sink:
  urls: [%q]
  index_prefix: %s
  flush_interval: 100ms
state: { dir: %q }
http: { listen: %q }
views:
  - name: things
    root: { source: app, table: things }
`, db.DSN(), search.URL, search.Prefix, t.TempDir(), addr))
	d := startDaemon(t, cfg, addr)
	d.waitReady(2 * time.Minute)
	alias := search.Index("things")

	db.Exec(`ALTER TABLE things ADD COLUMN extra int DEFAULT 7`)
	db.Exec(`INSERT INTO things VALUES (51, 'later', 8)`)
	eventually(t, 2*time.Minute, func() bool {
		return countMatching(t, search, alias, `{"query":{"term":{"extra":7}}}`) == 50 &&
			countMatching(t, search, alias, `{"query":{"term":{"extra":8}}}`) == 1
	}, func() string {
		return fmt.Sprintf("%d documents with extra = 7, want 50", countMatching(t, search, alias, `{"query":{"term":{"extra":7}}}`))
	})
	if d.exited() {
		t.Fatalf("projector exited: %v", d.err)
	}
	if !strings.Contains(d.out.String(), "gained column extra") {
		t.Errorf("projector did not report the added column")
	}
	if n, _ := sample(d.metrics(), "projector_errors_total", map[string]string{"stage": "schema"}); n < 1 {
		t.Errorf("projector_errors_total{stage=schema} = %v, want at least 1", n)
	}
	body, err := search.Do("GET", "/"+alias+"/_mapping", nil)
	if err != nil || !strings.Contains(string(body), `"extra"`) {
		t.Errorf("the view's index mapping lacks extra: %s %v", body, err)
	}
	d.waitReady(time.Minute)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}
