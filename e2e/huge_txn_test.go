package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// hugeRows is the size of the huge transactions: PROJECTOR_TEST_HUGE_ROWS,
// or hugeTxnRows (1,000,000 with -tags chaos, 200,000 without).
func hugeRows(t *testing.T) int {
	t.Helper()
	s := os.Getenv("PROJECTOR_TEST_HUGE_ROWS")
	if s == "" {
		return hugeTxnRows
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("PROJECTOR_TEST_HUGE_ROWS=%q: want a positive number of rows", s)
	}
	return n
}

// plainBinary is the projector executable built without the race
// detector, whose memory is what users run: the race detector's shadow
// memory is several times the program's own.
func plainBinary(t *testing.T) string {
	t.Helper()
	if !raceEnabled {
		return binary
	}
	bin := filepath.Join(t.TempDir(), "projector")
	build := exec.Command("go", "build", "-o", bin, "../cmd/projector")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build projector without the race detector: %v\n%s", err, out)
	}
	return bin
}

// peakRSS is the peak resident set of the process pid (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the peak resident set: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// streamSooner makes the server stream a transaction in progress past 1 MB
// of changes instead of the default 64 MB, on projector's connections only:
// at any PROJECTOR_TEST_HUGE_ROWS the aborted transaction is sent, and must
// be dropped, rather than never sent at all.
const streamSooner = "&options=-c%20logical_decoding_work_mem%3D1MB"

// hugeFixture is one narrow table and a view of it.
type hugeFixture struct {
	db       *testbed.Database
	search   *testbed.Search
	rows     int
	cfg      string
	addr     string
	alias    string
	stateDir string
}

func newHugeFixture(t *testing.T, rows int) *hugeFixture {
	t.Helper()
	fx := &hugeFixture{db: testbed.NewDatabase(t, testbed.Primary), search: testbed.NewSearch(t), rows: rows,
		addr: freePort(t), stateDir: t.TempDir()}
	fx.db.Exec(`CREATE TABLE narrow (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0)`)
	fx.db.Exec(`INSERT INTO narrow (id) SELECT g FROM generate_series(1, $1::int) g`, fx.rows)
	fx.cfg = writeConfig(t, fmt.Sprintf(`
sources:
  app: { dsn: %q, slot: %s }
sink: { urls: [%q], index_prefix: %s, flush_interval: 100ms }
state: { dir: %q }
http: { listen: %q }
views:
  - name: narrow
    root: { source: app, table: narrow }
    settings: { replicas: 0, refresh_interval: 5s }
`, fx.db.DSN()+streamSooner, fx.search.Prefix+"app", fx.search.URL, fx.search.Prefix, fx.stateDir, fx.addr))
	fx.alias = fx.search.Index("narrow")
	return fx
}

// waitCount waits, as long as indexing a huge table takes, until the view
// holds want documents.
func (fx *hugeFixture) waitCount(t *testing.T, want int) {
	t.Helper()
	var n int
	var err error
	eventually(t, 15*time.Minute, func() bool {
		fx.search.Refresh()
		n, err = count(fx.search, fx.alias)
		return err == nil && n == want
	}, func() string { return fmt.Sprintf("%s holds %d documents (%v), want %d", fx.alias, n, err, want) })
}

// fence writes a row and waits for its document: everything committed
// before it has been applied.
func (fx *hugeFixture) fence(t *testing.T, id int) {
	t.Helper()
	fx.db.Exec(`INSERT INTO narrow (id, v) VALUES ($1, 7)`, id)
	eventually(t, 15*time.Minute, func() bool {
		fx.search.Refresh()
		_, err := fx.search.Do("GET", "/"+fx.alias+"/_doc/"+strconv.Itoa(id), nil)
		return err == nil
	}, func() string { return fmt.Sprintf("fence row %d never reached %s", id, fx.alias) })
}

// TestHugeTransaction runs the built binary (without the race detector) on
// a table of 1 M narrow rows (with -tags chaos; see hugeRows): a transaction inserting as many rows again
// that aborts after the server streamed it, then one UPDATE of every row.
// projector's peak resident set stays under 300 MB, the aborted rows never
// reach the index, the update does, whole (verify finds no drift), and the
// transactions went through the spill directory, which is empty at the
// end.
func TestHugeTransaction(t *testing.T) {
	bin := plainBinary(t)
	fx := newHugeFixture(t, hugeRows(t))
	d := startRunOf(t, bin, "projector", fx.cfg, fx.addr, nil, nil)
	d.waitReady(15 * time.Minute)
	fx.waitCount(t, fx.rows)

	// The server sends a transaction in progress once the changes it holds
	// pass logical_decoding_work_mem. On a busy test server a run was seen
	// where it sent nothing of this one and dropped it at the rollback
	// (nothing spilled, nothing indexed), so a larger one is tried then, up
	// to three times: the test still needs one to go through the spill file.
	var spilled float64
	fences := 0
	for attempt := 1; attempt <= 3 && spilled <= 0; attempt++ {
		fx.db.Exec(fmt.Sprintf(`BEGIN;
		INSERT INTO narrow (id) SELECT g FROM generate_series(%d, %d) g;
		ROLLBACK`, fx.rows+1, fx.rows+attempt*fx.rows))
		fx.fence(t, 10*fx.rows+attempt)
		fences++
		spilled = d.gauge("projector_source_spilled_bytes_total", map[string]string{"source": "app"})
	}
	if spilled <= 0 {
		t.Errorf("projector_source_spilled_bytes_total = %v after %d aborted transactions, want one spilled", spilled, fences)
	}
	fx.waitCount(t, fx.rows+fences)

	started := time.Now()
	fx.db.Exec(`UPDATE narrow SET v = v + 1`)
	fx.fence(t, 10*fx.rows+fences+1)
	t.Logf("the %d-row update reached the index in %s", fx.rows+fences, time.Since(started).Round(time.Second))
	if got := d.gauge("projector_source_spilled_bytes_total", map[string]string{"source": "app"}); got <= spilled {
		t.Errorf("projector_source_spilled_bytes_total = %v after the update, %v before: want it spilled", got, spilled)
	} else {
		t.Logf("the update spilled %d MiB", int64(got-spilled)>>20)
	}
	verifyViews(t, fx.cfg, nil, "narrow")
	fx.waitCount(t, fx.rows+fences+1)
	// Delivering the update takes minutes: the server must hear from
	// projector meanwhile, or it drops the connection and sends it all again.
	if got := d.gauge("projector_errors_total", map[string]string{"stage": "capture"}); got != 0 {
		t.Errorf("projector_errors_total{stage=\"capture\"} = %v, want no reconnect", got)
	}

	peak := peakRSS(t, d.cmd.Process.Pid)
	t.Logf("peak resident set %d MiB", peak>>20)
	if peak >= 300<<20 {
		t.Errorf("peak resident set %d MiB, want under 300 MB", peak>>20)
	}
	eventually(t, time.Minute, func() bool {
		return d.gauge("projector_source_transaction_bytes", map[string]string{"source": "app"}) == 0
	}, func() string { return "projector_source_transaction_bytes never came back to 0" })
	left, err := filepath.Glob(filepath.Join(fx.stateDir, "spill", "*", "*"))
	if err != nil || len(left) != 0 {
		t.Errorf("spill files left with no transaction open: %v (%v)", left, err)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector did not stop cleanly: %v", err)
	}
}
