package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Machine describes where the benchmarks ran.
type Machine struct {
	CPU, Cores, RAM, Kernel  string
	PostgreSQL, SearchEngine string
	Go                       string
	// BusySlots are the replication slots some other consumer was
	// streaming from when the run began (a demo left running): WAL is
	// the server's, so their walsenders read and decode this run's
	// writes too and take CPU from every benchmark.
	BusySlots []string
}

// DescribeMachine reads the machine's CPU, memory and the versions of the
// servers and of Go.
func DescribeMachine(ctx context.Context, env Env) (Machine, error) {
	m := Machine{CPU: cpuModel(), Cores: strconv.Itoa(runtime.NumCPU()), RAM: memTotal(), Go: runtime.Version()}
	if out, err := exec.CommandContext(ctx, "uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	conn, err := pgx.Connect(ctx, env.AdminDSN)
	if err != nil {
		return m, fmt.Errorf("connect to the PostgreSQL server: %w", err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&m.PostgreSQL); err != nil {
		return m, fmt.Errorf("read the PostgreSQL version: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT slot_name FROM pg_replication_slots WHERE active ORDER BY slot_name")
	if err != nil {
		return m, fmt.Errorf("list the active replication slots: %w", err)
	}
	if m.BusySlots, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return m, fmt.Errorf("list the active replication slots: %w", err)
	}
	if m.SearchEngine, err = newSearchClient(env.SearchURL, 1).version(ctx); err != nil {
		return m, fmt.Errorf("read the search engine's version: %w", err)
	}
	return m, nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return strings.TrimSpace(v)
			}
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return "unknown"
}
