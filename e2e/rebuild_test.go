package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestViewChangeRebuildsWithoutDowntime changes a view's fields (adding a
// column the local state never held): projector must build <alias>_v2
// from fresh snapshots, keep it current, move the alias atomically and
// delete _v1, while searches on the alias keep answering with every
// document. `projector rebuild` then does the same into _v3 and exits.
func TestViewChangeRebuildsWithoutDowntime(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	const rows = 2000
	db.Exec(fmt.Sprintf(`CREATE TABLE dishes (id bigint PRIMARY KEY, name text, price_cents bigint);
		INSERT INTO dishes SELECT g, 'dish ' || g, g * 10 FROM generate_series(1, %d) g`, rows))
	addr := freePort(t)
	state := t.TempDir()
	config := func(fields string) string {
		return writeConfig(t, fmt.Sprintf(`
sources:
  menu: { dsn: %q, slot: %smenu }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:
  - name: dishes
    root: { source: menu, table: dishes }
    fields: %s
    settings: { replicas: 0 }
`, db.DSN(), search.Prefix, search.URL, search.Prefix, state, addr, fields))
	}
	alias := search.Index("dishes")

	d := startDaemon(t, config("[id, name]"), addr)
	d.waitReady(2 * time.Minute)
	waitCount(t, search, alias, rows)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}

	// Searches run throughout the rebuild and must always see every document.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var searches, failures int
	var firstFailure string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			n, err := count(search, alias)
			searches++
			if err != nil || n < rows {
				failures++
				if firstFailure == "" {
					firstFailure = fmt.Sprintf("count %d, error %v", n, err)
				}
			}
		}
	}()
	v2 := config("[id, name, price_cents]")
	d = startDaemon(t, v2, addr)
	d.waitReady(2 * time.Minute)
	db.Exec(`INSERT INTO dishes VALUES (100001, 'added during the rebuild', 5)`)
	waitAlias(t, search, alias, alias+"_v2")
	waitDoc(t, search, alias, "100001", func(doc map[string]any) bool { return doc["price_cents"] == 5.0 })
	waitDoc(t, search, alias, "7", func(doc map[string]any) bool { return doc["price_cents"] == 70.0 })
	close(stop)
	wg.Wait()
	if failures > 0 {
		t.Errorf("%d of %d searches during the rebuild missed documents; first: %s", failures, searches, firstFailure)
	}
	if searches < 5 {
		t.Errorf("only %d searches ran during the rebuild", searches)
	}
	if _, err := search.Do("HEAD", "/"+alias+"_v1", nil); err == nil {
		t.Errorf("%s_v1 still exists after the swap", alias)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}

	out, err := exec.Command(binary, "rebuild", "-c", v2, "--view", "dishes", "--log-format", "text").CombinedOutput()
	if err != nil {
		t.Fatalf("projector rebuild: %v\n%s", err, out)
	}
	waitAlias(t, search, alias, alias+"_v3")
	waitCount(t, search, alias, rows+1)
	if !strings.Contains(string(out), "view rebuilt") {
		t.Errorf("rebuild did not report the swap:\n%s", out)
	}
}

func count(search *testbed.Search, index string) (int, error) {
	body, err := search.Do("GET", "/"+index+"/_count", nil)
	if err != nil {
		return 0, err
	}
	var res struct {
		Count int `json:"count"`
	}
	err = json.Unmarshal(body, &res)
	return res.Count, err
}

func waitCount(t *testing.T, search *testbed.Search, index string, want int) {
	t.Helper()
	var n int
	var err error
	eventually(t, 2*time.Minute, func() bool {
		search.Refresh()
		n, err = count(search, index)
		return err == nil && n == want
	}, func() string { return fmt.Sprintf("%s holds %d documents (%v), want %d", index, n, err, want) })
}

// waitAlias waits until alias points at index only.
func waitAlias(t *testing.T, search *testbed.Search, alias, index string) {
	t.Helper()
	var got string
	eventually(t, 2*time.Minute, func() bool {
		body, err := search.Do("GET", "/_alias/"+alias, nil)
		if err != nil {
			got = err.Error()
			return false
		}
		var byIndex map[string]any
		if err := json.Unmarshal(body, &byIndex); err != nil {
			got = err.Error()
			return false
		}
		got = string(body)
		_, ok := byIndex[index]
		return ok && len(byIndex) == 1
	}, func() string { return fmt.Sprintf("alias %s: %s, want %s", alias, got, index) })
}
