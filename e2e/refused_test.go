package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/sink"
)

// TestRefusedUpdateIsDeadLetteredNotStale updates a row from a value the
// search engine takes to one it refuses. The view must no longer hold the
// old document as current, the dead-letter index (with the view's
// replicas) must hold the refused one with what is needed to repair it,
// the other rows must keep flowing, and a restart must neither fail nor
// replay the dead letter. The engine refuses through an ingest pipeline
// that rejects n = 13: it stands for any refusal of a document (a value
// that breaks the mapping, a limit), whatever the mapping of each type.
func TestRefusedUpdateIsDeadLetteredNotStale(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE probes (id bigint PRIMARY KEY, n bigint, note text);
		INSERT INTO probes VALUES (1, 1, 'a'), (2, 2, 'b')`)
	state := t.TempDir()
	config := func(addr string) string {
		return writeConfig(t, fmt.Sprintf(`
sources:
  shop: { dsn: %q, slot: %sshop }
sink:
  urls: [%q]
  index_prefix: %s
  flush_interval: 50ms
state: { dir: %q }
http: { listen: %q }
views:
  - name: probes
    root: { source: shop, table: probes }
    fields: [id, n, note]
    settings: { shards: 1, replicas: 0 }
`, db.DSN(), search.Prefix, search.URL, search.Prefix, state, addr))
	}
	alias := search.Index("probes")
	letters := sink.DeadLetterIndex(alias)
	addr := freePort(t)
	d := startDaemon(t, config(addr), addr)
	d.waitReady(2 * time.Minute)
	waitDoc(t, search, alias, "1", func(doc map[string]any) bool { return doc["n"] == 1.0 })

	settings, err := search.Do("GET", "/"+letters+"/_settings/index.number_of_replicas", nil)
	if err != nil || !strings.Contains(string(settings), `"number_of_replicas":"0"`) {
		t.Errorf("dead-letter index settings %s (%v), want the view's 0 replicas", settings, err)
	}

	pipeline := search.Prefix + "refuse13"
	if _, err := search.Do("PUT", "/_ingest/pipeline/"+pipeline, strings.NewReader(
		`{"processors":[{"script":{"if":"ctx.n == 13","source":"throw new IllegalArgumentException(\"n must not be 13\")"}}]}`)); err != nil {
		t.Fatalf("create pipeline: %v", err)
	}
	t.Cleanup(func() { search.Do("DELETE", "/_ingest/pipeline/"+pipeline, nil) })
	setPipeline := func(name string) {
		t.Helper()
		if _, err := search.Do("PUT", "/"+alias+"/_settings", strings.NewReader(
			`{"index":{"default_pipeline":"`+name+`"}}`)); err != nil {
			t.Fatalf("set the view's default pipeline: %v", err)
		}
	}
	setPipeline(pipeline)

	db.Exec(`UPDATE probes SET n = 13, note = 'refused' WHERE id = 1`)
	db.Exec(`INSERT INTO probes VALUES (3, 3, 'c')`)
	db.Exec(`UPDATE probes SET note = 'b2' WHERE id = 2`)

	var got map[string]deadLetterSeen
	eventually(t, time.Minute, func() bool {
		got = deadLetters(t, search, letters)
		return len(got) >= 1
	}, func() string { return fmt.Sprintf("dead letters in %s: %v", letters, got) })
	dl := got["1"]
	if dl.Error.Type != "script_exception" || !strings.Contains(dl.Document, `"n":13`) || dl.View != "probes" ||
		dl.Position == "" || dl.Version <= 0 || dl.Time == "" {
		t.Errorf("dead letter of probe 1 lacks what is needed to repair it: %+v", dl)
	}
	if len(got) != 1 {
		t.Errorf("dead letters %v, want only probe 1", got)
	}
	waitDoc(t, search, alias, "3", func(doc map[string]any) bool { return doc["note"] == "c" })
	waitDoc(t, search, alias, "2", func(doc map[string]any) bool { return doc["note"] == "b2" })
	if body, err := search.Do("GET", "/"+alias+"/_doc/1", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("the view still holds probe 1 as before its refused update: %s", body)
	}
	if n, _ := sample(d.metrics(), "projector_dead_letters_total", map[string]string{"view": "probes"}); n != 1 {
		t.Errorf("projector_dead_letters_total{view=probes} = %v, want 1", n)
	}
	if err := d.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("projector exit: %v", err)
	}

	// The dead letter settled the document: a restart does not send it
	// again, and the row is indexed once it holds a value the engine takes.
	addr = freePort(t)
	d = startDaemon(t, config(addr), addr)
	d.waitReady(2 * time.Minute)
	db.Exec(`UPDATE probes SET note = 'b3' WHERE id = 2`)
	waitDoc(t, search, alias, "2", func(doc map[string]any) bool { return doc["note"] == "b3" })
	if n, _ := sample(d.metrics(), "projector_dead_letters_total", map[string]string{"view": "probes"}); n != 0 {
		t.Errorf("projector_dead_letters_total{view=probes} = %v after a restart, want 0: the dead letter was replayed", n)
	}
	setPipeline("_none")
	db.Exec(`UPDATE probes SET n = 14 WHERE id = 1`)
	waitDoc(t, search, alias, "1", func(doc map[string]any) bool { return doc["n"] == 14.0 })
	if err := d.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}
