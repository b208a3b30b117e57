package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/sink"
)

// TestJSONMappingChoices runs json values of every shape under the three
// mappings a view may choose. stored, the default, indexes every row;
// flattened dead-letters the rows whose value is not an object, as
// docs/types.md says, and indexes the others.
func TestJSONMappingChoices(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE docs (pk int PRIMARY KEY, payload jsonb);
		INSERT INTO docs VALUES
			(1, '{"k": "text", "": 1, "n": 18446744073709551616}'),
			(2, '"scalar"'),
			(3, '[1, {"a": 2}]'),
			(4, 'null'),
			(5, NULL),
			(6, '{"k": {"obj": [1, 2.5, "mixed"]}}')`)
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
sources:
  docs: { dsn: %[1]q, slot: %[2]sdocs }
sink:
  urls: [%[3]q]
  index_prefix: %[2]s
  flush_interval: 100ms
state:
  dir: %[4]s
http:
  listen: %[5]s
views:
  - name: json_stored
    root: { source: docs, table: docs }
    settings: { replicas: 0 }
  - name: json_flat
    root: { source: docs, table: docs }
    json: { payload: flattened }
    settings: { replicas: 0 }
`, db.DSN(), search.Prefix, search.URL, t.TempDir()+"/state", addr))
	d := startDaemon(t, cfg, addr)
	d.waitReady(2 * time.Minute)
	db.Exec(`INSERT INTO docs VALUES (7, '12.5'), (8, '{"streamed": true}')`)

	verifyViews(t, cfg, nil, "json_stored")
	flat := search.Index("json_flat")
	var indexed, dead []string
	eventually(t, time.Minute, func() bool {
		search.Refresh()
		indexed, dead = docIDs(t, search, flat, "_id"), docIDs(t, search, sink.DeadLetterIndex(flat), "id")
		return len(indexed)+len(dead) >= 8
	}, func() string { return fmt.Sprintf("json_flat: indexed %v, dead-lettered %v", indexed, dead) })
	if want := []string{"1", "4", "5", "6", "8"}; !slices.Equal(indexed, want) {
		t.Errorf("json_flat indexed %v, want %v", indexed, want)
	}
	if want := []string{"2", "3", "7"}; !slices.Equal(dead, want) {
		t.Errorf("json_flat dead-lettered %v, want %v (the values that are not objects)", dead, want)
	}
	if n := matrixCount(t, search, sink.DeadLetterIndex(search.Index("json_stored"))); n != 0 {
		t.Errorf("json_stored dead-lettered %d documents, want none", n)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}

// docIDs lists, sorted, the values of field (or the _id) of every
// document of an index; a missing index has none.
func docIDs(t *testing.T, search *testbed.Search, index, field string) []string {
	t.Helper()
	body, err := search.Do("POST", "/"+index+"/_search?size=100", strings.NewReader(`{"query":{"match_all":{}}}`))
	if err != nil {
		if strings.Contains(err.Error(), "index_not_found") {
			return nil
		}
		t.Fatalf("search %s: %v", index, err)
	}
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range res.Hits.Hits {
		if field == "_id" {
			ids = append(ids, h.ID)
		} else {
			ids = append(ids, fmt.Sprint(h.Source[field]))
		}
	}
	sort.Strings(ids)
	return ids
}
