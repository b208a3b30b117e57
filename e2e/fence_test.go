package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// startStandby runs `projector run --standby` with the configuration at
// path, like startDaemon.
func startStandby(t *testing.T, path, httpAddr string) *process {
	t.Helper()
	return startRun(t, "standby projector", path, httpAddr, []string{"--standby"}, nil)
}

// TestSecondInstance starts a second projector with the same configuration
// and an empty state directory, as a second replica or a reschedule does,
// while the first runs. It must refuse to start, naming the first; started
// as a standby it waits without touching slots or indices, and takes over
// when the first stops. The view stays equal to the table throughout.
func TestSecondInstance(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	db.Exec(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text);
		INSERT INTO dishes SELECT g, 'dish ' || g FROM generate_series(1, 500) g`)
	slot := search.Prefix + "menu"
	config := func(addr string) string {
		return writeConfig(t, fmt.Sprintf(`
sources:
  menu: { dsn: %q, slot: %s }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    settings: { replicas: 0 }
`, db.DSN(), slot, search.URL, search.Prefix, t.TempDir(), addr))
	}
	alias := search.Index("dishes")
	firstAddr, secondAddr := freePort(t), freePort(t)
	first, second := config(firstAddr), config(secondAddr)
	d := startDaemon(t, first, firstAddr)
	d.waitReady(2 * time.Minute)
	waitCount(t, search, alias, 500)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "run", "-c", second).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || ctx.Err() != nil {
		t.Fatalf("a second instance did not refuse to start: %v\n%s", err, out)
	}
	for _, want := range []string{"another projector is running", "is locked by pid", "--standby"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}

	standby := startStandby(t, second, secondAddr)
	var body string
	eventually(t, time.Minute, func() bool {
		code, b, err := standby.get("/readyz")
		body = b
		return err == nil && code == http.StatusServiceUnavailable && strings.Contains(b, "standby: another projector is running")
	}, func() string { return "the standby's /readyz does not say it waits: " + body })
	if got := standby.metrics()["projector_standby"].GetMetric()[0].GetGauge().GetValue(); got != 1 {
		t.Errorf("projector_standby = %v while the standby waits, want 1", got)
	}
	db.Exec(`DELETE FROM dishes WHERE id <= 100`)
	db.Exec(`UPDATE dishes SET name = 'renamed' WHERE id = 200`)
	db.Exec(`INSERT INTO dishes VALUES (1001, 'while the standby waits')`)
	waitDoc(t, search, alias, "1001", func(map[string]any) bool { return true })
	time.Sleep(5 * time.Second) // a standby that fought would have struck by now
	if standby.exited() {
		t.Fatalf("the standby exited: %v", standby.err)
	}
	if d.exited() {
		t.Fatalf("the first instance exited: %v", d.err)
	}
	// The first instance's view index and its dead-letter index, nothing
	// from the standby.
	if got := testIndices(t, search); !slices.Equal(sorted(got), []string{alias + "-deadletter", alias + "_v1"}) {
		t.Errorf("indices %v while the standby waits, want only %s_v1 and its dead-letter index", got, alias)
	}
	verifyViews(t, first, nil, "dishes")

	// The first stops; the standby takes over and, its state empty,
	// rebuilds the view beside the index queries use.
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("stop the first instance: %v", err)
	}
	waitAlias(t, search, alias, alias+"_v2")
	standby.waitReady(2 * time.Minute)
	if got := standby.metrics()["projector_standby"].GetMetric()[0].GetGauge().GetValue(); got != 0 {
		t.Errorf("projector_standby = %v after the takeover, want 0", got)
	}
	db.Exec(`INSERT INTO dishes VALUES (1002, 'after the takeover')`)
	waitDoc(t, search, alias, "1002", func(map[string]any) bool { return true })
	verifyViews(t, second, nil, "dishes")
	if err := standby.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("stop the standby: %v", err)
	}
}

// testIndices lists the test's indices.
func testIndices(t *testing.T, search *testbed.Search) []string {
	t.Helper()
	out, err := search.Do(http.MethodGet, "/_cat/indices/"+search.Prefix+"*?format=json&h=index&expand_wildcards=all", nil)
	if err != nil {
		t.Fatalf("list indices: %v", err)
	}
	var rows []struct{ Index string }
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("list indices: %v", err)
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Index
	}
	return names
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
