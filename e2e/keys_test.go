package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/transform"
)

// TestDocumentKeys runs rows whose keys used to stop the daemon or lose a
// row through snapshot, streaming and restarts: an empty text key, a
// REPLICA IDENTITY FULL table with a large column and NULLs, a key over
// the engine's 512-byte id limit, and composite keys holding "|".
func TestDocumentKeys(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE empty_pk (id text PRIMARY KEY, v int);
		INSERT INTO empty_pk VALUES ('', 5), ('\e', 6);
		CREATE TABLE full_pk (id int PRIMARY KEY, body text, note text, n int);
		ALTER TABLE full_pk REPLICA IDENTITY FULL;
		INSERT INTO full_pk VALUES (1, repeat('b', 10000), NULL, 1), (2, NULL, NULL, NULL);
		CREATE TABLE long_pk (id text PRIMARY KEY, v int);
		CREATE TABLE pairs (a text, b text, v int, PRIMARY KEY (a, b));
		INSERT INTO pairs VALUES ('a|b', 'c', 1), ('a', 'b|c', 2)`)

	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  db: { dsn: %q }
sink:
  urls: [%q]
  username: elastic
  password: ${SINK_PASSWORD}
  index_prefix: %s
  flush_interval: 100ms
state: { dir: %q }
http: { listen: %q }
views:
  - name: empty_pk
    root: { source: db, table: empty_pk }
  - name: full_pk
    root: { source: db, table: full_pk }
  - name: long_pk
    root: { source: db, table: long_pk }
  - name: pairs
    root: { source: db, table: pairs }
`, withPassword(db.DSN()), search.URL, search.Prefix, t.TempDir(), addr))
	env := []string{"SINK_PASSWORD=" + sinkPassword}
	d := startDaemon(t, cfg, addr, env...)
	d.waitReady(2 * time.Minute)

	id := func(parts ...string) string { return url.PathEscape(transform.DocID(parts)) }
	has := func(field string, want any) func(map[string]any) bool {
		return func(doc map[string]any) bool { return fmt.Sprint(doc[field]) == fmt.Sprint(want) }
	}

	// Snapshot: the empty key and the key that looks like its id are
	// two documents; so are the two composite keys with a "|".
	waitDoc(t, search, search.Index("empty_pk"), id(""), has("v", 5))
	waitDoc(t, search, search.Index("empty_pk"), id(`\e`), has("v", 6))
	waitDoc(t, search, search.Index("pairs"), id("a|b", "c"), has("v", 1))
	waitDoc(t, search, search.Index("pairs"), id("a", "b|c"), has("v", 2))
	waitDoc(t, search, search.Index("full_pk"), id("2"), has("note", nil))
	if got := transform.DocID([]string{"1"}); got != "1" {
		t.Fatalf("a single integer key has the id %q", got)
	}

	// Streaming: the FULL table keeps _id = its primary key through
	// updates with NULLs and a 10 kB column, and deletes reach the view.
	db.Exec(`INSERT INTO full_pk VALUES (3, repeat('c', 10000), NULL, NULL)`)
	db.Exec(`UPDATE full_pk SET n = 2, note = NULL WHERE id = 1`)
	db.Exec(`UPDATE full_pk SET note = 'x' WHERE id = 2`)
	db.Exec(`DELETE FROM full_pk WHERE id = 3`)
	long := strings.Repeat("k", 600)
	db.Exec(`INSERT INTO long_pk VALUES ($1, 7)`, long)
	db.Exec(`INSERT INTO empty_pk VALUES ('x', 8)`)
	db.Exec(`UPDATE empty_pk SET v = 9 WHERE id = ''`)
	db.Exec(`INSERT INTO pairs VALUES ('a\', '|b', 3)`)
	waitDoc(t, search, search.Index("full_pk"), id("1"), func(doc map[string]any) bool {
		body, _ := doc["body"].(string)
		return fmt.Sprint(doc["n"]) == "2" && len(body) == 10000 && doc["note"] == nil
	})
	waitDoc(t, search, search.Index("full_pk"), id("2"), has("note", "x"))
	waitDoc(t, search, search.Index("empty_pk"), id(""), has("v", 9))
	waitDoc(t, search, search.Index("pairs"), id(`a\`, "|b"), has("v", 3))
	waitDoc(t, search, search.Index("long_pk"), id(long), func(doc map[string]any) bool {
		key, _ := doc[transform.KeyField].([]any)
		return fmt.Sprint(doc["v"]) == "7" && len(key) == 1 && key[0] == long
	})
	waitGone(t, search, search.Index("full_pk"), id("3"))
	search.Refresh()
	for view, want := range map[string]int{"full_pk": 2, "empty_pk": 3, "pairs": 3, "long_pk": 1} {
		if n := countDocs(t, search, search.Index(view), `{"query":{"match_all":{}}}`); n != want {
			t.Errorf("view %s has %d documents, want %d", view, n, want)
		}
	}
	verifyViews(t, cfg, env, "empty_pk", "full_pk", "long_pk", "pairs")

	// Restarts: nothing in the state stops the daemon, before or after the
	// rows are gone from PostgreSQL.
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("projector stopped with %v", err)
	}
	db.Exec(`DELETE FROM empty_pk WHERE id = ''`)
	db.Exec(`DELETE FROM long_pk`)
	d = startDaemon(t, cfg, addr, env...)
	d.waitReady(2 * time.Minute)
	waitGone(t, search, search.Index("empty_pk"), id(""))
	waitGone(t, search, search.Index("long_pk"), id(long))
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("projector stopped with %v", err)
	}
	d = startDaemon(t, cfg, addr, env...)
	d.waitReady(2 * time.Minute)
	db.Exec(`INSERT INTO empty_pk VALUES ('', 10)`)
	waitDoc(t, search, search.Index("empty_pk"), id(""), has("v", 10))
	if d.exited() {
		t.Fatalf("projector exited: %v", d.err)
	}
}

// waitGone polls the index until the document is absent.
func waitGone(t *testing.T, search *testbed.Search, index, id string) {
	t.Helper()
	var last string
	eventually(t, time.Minute, func() bool {
		// A missing document answers 404, which Do reports as an error.
		body, err := search.Do("GET", "/"+index+"/_doc/"+id, nil)
		var res struct {
			Found *bool `json:"found"`
		}
		last = fmt.Sprint(string(body), err)
		return json.Unmarshal(body, &res) == nil && res.Found != nil && !*res.Found
	}, func() string { return fmt.Sprintf("document %s/%s still there: %s", index, id, last) })
}
