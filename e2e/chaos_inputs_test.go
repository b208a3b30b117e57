package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/internal/fooddelivery"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/sink"
)

// probesView is a second view beside the reference views, over a table
// of the orders database that the bad-input scenario breaks.
const probesView = `
  - name: probes
    root: { source: orders, table: probes }
    fields: [id, n, doc]
    json: { doc: object }
`

// TestChaosBadInputs breaks the probes view every way a service team
// could while the workload runs on the reference views: a jsonb whose
// object shape conflicts with the mapping, a 10 MB row, a column whose
// type changes under the view, and finally the table dropped. Refused
// documents must land in the dead-letter index with the engine's reason,
// the type change and the drop must be reported while projector runs, the
// reference views must lose nothing, and a restart on the dropped table
// must leave that view out, naming the table, while the others run. The
// jsonb column is mapped as a dynamic object (json: object), the mapping
// that can conflict; the default (stored) never refuses a shape.
func TestChaosBadInputs(t *testing.T) {
	fx := newChaosFixture(t, chaosOptions{size: fooddelivery.SizeForOrders(chaosOrders), extraViews: probesView})
	fx.orders.Exec(`CREATE TABLE probes (id bigint PRIMARY KEY, n bigint, doc jsonb)`)
	fx.orders.Exec(`INSERT INTO probes VALUES (1, 1, '{"a": 1}'), (2, 2, '{"a": 2}')`)
	probes := fx.alias("probes")
	watch := watchVersions(t, fx.search, fx.alias("order_history"))
	d := fx.start(t)
	d.waitReady(3 * time.Minute)
	work := startWorkload(t, fx.dbs)

	// doc.a was mapped as a number by the first rows.
	fx.orders.Exec(`INSERT INTO probes VALUES (3, 3, '{"a": "not a number"}')`)
	fx.orders.Exec(`INSERT INTO probes VALUES (4, 4, jsonb_build_object('big', repeat('x', 10*1024*1024)))`)
	// n is mapped as long from the bigint column; its type now changes.
	fx.orders.Exec(`ALTER TABLE probes ALTER COLUMN n TYPE text`)
	fx.orders.Exec(`INSERT INTO probes VALUES (5, 'five', '{}')`)
	fx.orders.Exec(`UPDATE probes SET n = '10' WHERE id = 1`)

	letters := sink.DeadLetterIndex(probes)
	var got map[string]deadLetterSeen
	eventually(t, 2*time.Minute, func() bool {
		got = deadLetters(t, fx.search, letters)
		return len(got) >= 2
	}, func() string { return fmt.Sprintf("dead letters in %s: %v", letters, got) })
	for _, id := range []string{"3", "5"} {
		dl, ok := got[id]
		if !ok {
			t.Errorf("probe %s was refused but has no dead letter in %s: %v", id, letters, got)
			continue
		}
		if dl.Error.Type != "mapper_parsing_exception" || dl.Error.Reason == "" || dl.Document == "" {
			t.Errorf("dead letter of probe %s does not say why or what: %+v", id, dl)
		}
	}
	if len(got) != 2 {
		t.Errorf("dead letters for %d documents, want probes 3 and 5: %v", len(got), got)
	}
	// The 10 MB row fits the engine's request limit: it is indexed, and
	// the rows around it are not held up.
	eventually(t, time.Minute, func() bool {
		fx.search.Refresh()
		return probeN(t, fx.search, probes, "4") == "4" && probeN(t, fx.search, probes, "1") == "10" &&
			probeN(t, fx.search, probes, "2") == "2"
	}, func() string { return "probes 1, 2 and 4 are not all indexed with their last values" })
	if n, _ := sample(d.metrics(), "projector_dead_letters_total", map[string]string{"view": "probes"}); n != 2 {
		t.Errorf("projector_dead_letters_total{view=probes} = %v, want 2", n)
	}
	if !strings.Contains(d.out.String(), "dead-letter") {
		t.Errorf("projector logged nothing about the refused documents")
	}
	// DDL is not replicated; projector compares the schemas every 10 s.
	eventually(t, time.Minute, func() bool {
		return strings.Contains(d.out.String(), "column n of public.probes changed type from bigint to text")
	}, func() string { return "projector did not report the type change of probes.n" })

	// Logical replication carries no DDL: the drop reaches projector only
	// as the end of the table's changes.
	fx.orders.Exec(`DROP TABLE probes`)
	dropped := endOfFault(d)
	eventually(t, time.Minute, func() bool {
		return strings.Contains(d.out.String(), "table public.probes was dropped")
	}, func() string { return "projector did not report the dropped table" })
	if n, _ := sample(d.metrics(), "projector_errors_total", map[string]string{"stage": "schema"}); n != 2 {
		t.Errorf("projector_errors_total{stage=schema} = %v, want 2 (the type change and the drop)", n)
	}
	recovery(t, d, dropped, work, 3*time.Minute)
	counts := work.wait(t)
	t.Logf("workload: %v", counts)
	drained(t, d, dropped, work)
	watch.finish(t)
	fx.verifyView(t, "order_history")
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}

	// A dropped table does not block the next start: its view is left out
	// and reported, and the reference views run.
	d = fx.start(t)
	d.waitUnready(2*time.Minute, "view probes: not maintained", "public.probes", "does not exist")
	if out := d.out.String(); !strings.Contains(out, "table public.probes of source orders does not exist") {
		t.Errorf("projector's report does not name the dropped table:\n%s", out)
	}
	if got, _ := sample(d.metrics(), "projector_view_available", map[string]string{"view": "order_history"}); got != 1 {
		t.Errorf("projector_view_available{view=order_history} = %v after a start on a dropped table of another view, want 1", got)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}

// deadLetterSeen is what the test reads back from a dead letter.
type deadLetterSeen struct {
	ID       string `json:"id"`
	View     string `json:"view"`
	Version  int64  `json:"version"`
	Position string `json:"position"`
	Time     string `json:"time"`
	Document string `json:"document"`
	Error    struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// deadLetters returns the dead letters of index by the id of the refused
// document; none while the index does not exist.
func deadLetters(t *testing.T, search *testbed.Search, index string) map[string]deadLetterSeen {
	t.Helper()
	search.Refresh()
	body, err := search.Do("POST", "/"+index+"/_search?ignore_unavailable=true", strings.NewReader(`{"size":100}`))
	if err != nil {
		// An index created a moment ago answers 503 until its shard starts.
		t.Logf("read dead letters (read again): %v", err)
		return nil
	}
	var res struct {
		Hits struct {
			Hits []struct {
				Source deadLetterSeen `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	out := map[string]deadLetterSeen{}
	for _, h := range res.Hits.Hits {
		out[h.Source.ID] = h.Source
	}
	return out
}

// probeN returns field n of probe id as indexed, or "" when it is absent.
func probeN(t *testing.T, search *testbed.Search, index, id string) string {
	t.Helper()
	body, err := search.Do("GET", "/"+index+"/_doc/"+id+"?_source_includes=n", nil)
	if err != nil {
		return ""
	}
	var doc struct {
		Source struct {
			N any `json:"n"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(doc.Source.N)
}

// TestChaosMalformedConfig starts projector on broken configuration files:
// each must stop it with an error naming the file and line, exit non-zero
// and leave the databases and the search engine untouched.
func TestChaosMalformedConfig(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE items (id bigint PRIMARY KEY, name text)`)
	search := testbed.NewSearch(t)
	good := []string{
		"sources:",
		fmt.Sprintf("  shop: { dsn: %q, slot: %sshop }", db.DSN(), search.Prefix),
		"sink:",
		fmt.Sprintf("  urls: [%q]", search.URL),
		"  index_prefix: " + search.Prefix,
		"state:",
		"  dir: " + t.TempDir(),
		"http:",
		"  listen: " + freePort(t),
		"views:",
		"  - name: items",
		"    root: { source: shop, table: items }",
		"    fields: [id, name]",
	}
	cases := []struct {
		name string
		line int // 1-based line of good replaced by text
		text string
	}{
		// The line of the unclosed bracket, where the user must look.
		{"unclosed bracket", 13, "    fields: [id, name"},
		{"tab indent", 6, "\tdir: /tmp"},
		{"unknown key", 6, "stat:"},
		{"wrong type", 9, "  listen: [1, 2]"},
		{"unknown source", 12, "    root: { source: shoe, table: items }"},
		{"bad duration", 5, "  index_prefix: " + search.Prefix + "\n  flush_interval: soon"},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			lines := append([]string(nil), good...)
			lines[c.line-1] = c.text
			path := writeConfig(t, strings.Join(lines, "\n")+"\n")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, binary, "run", "-c", path, "--log-format", "text").CombinedOutput()
			if err == nil {
				t.Fatalf("projector accepted a malformed configuration:\n%s", out)
			}
			line := c.line
			if c.name == "bad duration" {
				line++
			}
			if want := fmt.Sprintf("%s:%d", path, line); !strings.Contains(string(out), want) {
				t.Errorf("the error does not name %s:\n%s", want, out)
			}
		})
	}
	if n := countIndices(t, search); n != 0 {
		t.Errorf("malformed configurations created %d indices", n)
	}
	if n := countSlots(t, db, search.Prefix); n != 0 {
		t.Errorf("malformed configurations created %d replication slots", n)
	}
}

func countIndices(t *testing.T, search *testbed.Search) int {
	t.Helper()
	body, err := search.Do("GET", "/_cat/indices/"+search.Prefix+"*?format=json&expand_wildcards=all", nil)
	if err != nil {
		t.Fatalf("list indices: %v", err)
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

func countSlots(t *testing.T, db *testbed.Database, prefix string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE starts_with(slot_name, $1)`, prefix).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
